"""The supervisors' catalogue of recordings: filtered lists, one recording to play, who accessed it.

Reads of a recording go into the audit ledger here (``recording.viewed``); the audio endpoint
writes its own entries for every play and download.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from callcenter.errors import InvalidInput, NotFound
from callcenter.models import (
    AuditEntry,
    CallAttempt,
    Campaign,
    Disposition,
    FollowUpLog,
    Patient,
    Recording,
    User,
)
from callcenter.services import audit, authz
from callcenter.services.patients import Page

MAX_PER_PAGE = 100


@dataclass(frozen=True)
class Filters:
    campaign_id: int | None = None
    agent_id: int | None = None
    patient_id: int | None = None
    patient: str = ""  # name (part of it) or card number
    started_from: datetime | None = None
    started_to: datetime | None = None  # exclusive
    disposition: Disposition | None = None
    min_seconds: float | None = None
    max_seconds: float | None = None

    def check(self) -> Filters:
        """Refuse filters that cannot match anything, saying which field is wrong."""
        for name in ("min_seconds", "max_seconds"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InvalidInput(f"{name} must not be negative", {"field": name})
        if (
            self.min_seconds is not None
            and self.max_seconds is not None
            and self.min_seconds > self.max_seconds
        ):
            raise InvalidInput("min_seconds is larger than max_seconds", {"field": "min_seconds"})
        if self.started_from and self.started_to and self.started_from >= self.started_to:
            raise InvalidInput("the 'from' date is after the 'to' date", {"field": "from"})
        return self


@dataclass(frozen=True)
class RecordingRow:
    recording: Recording
    call: CallAttempt
    patient_name: str | None
    card_number: str | None
    agent_name: str | None
    campaign_name: str | None
    disposition: Disposition | None


@dataclass(frozen=True)
class RecordingView:
    row: RecordingRow
    log: FollowUpLog | None


def _disposition():
    """The call's latest follow-up disposition as a scalar column (a call may have no log)."""
    return (
        select(FollowUpLog.disposition)
        .where(FollowUpLog.call_attempt_id == CallAttempt.id)
        .order_by(FollowUpLog.id.desc())
        .limit(1)
        .correlate(CallAttempt)
        .scalar_subquery()
    )


def _base() -> Select:
    return (
        select(
            Recording,
            CallAttempt,
            Patient.name,
            Patient.card_number,
            User.display_name,
            Campaign.name,
            _disposition().label("disposition"),
        )
        .join(CallAttempt, CallAttempt.id == Recording.call_attempt_id)
        .outerjoin(Patient, Patient.id == CallAttempt.patient_id)
        .outerjoin(User, User.id == CallAttempt.agent_id)
        .outerjoin(Campaign, Campaign.id == CallAttempt.campaign_id)
    )


def _filtered(query: Select, filters: Filters) -> Select:
    if filters.campaign_id is not None:
        query = query.where(CallAttempt.campaign_id == filters.campaign_id)
    if filters.agent_id is not None:
        query = query.where(CallAttempt.agent_id == filters.agent_id)
    if filters.patient_id is not None:
        query = query.where(CallAttempt.patient_id == filters.patient_id)
    text = filters.patient.strip()
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(
            or_(Patient.card_number == text, Patient.name.ilike(f"%{escaped}%", escape="\\"))
        )
    if filters.started_from is not None:
        query = query.where(CallAttempt.started_at >= filters.started_from)
    if filters.started_to is not None:
        query = query.where(CallAttempt.started_at < filters.started_to)
    if filters.disposition is not None:
        query = query.where(_disposition() == filters.disposition)
    if filters.min_seconds is not None:
        query = query.where(Recording.duration_seconds >= filters.min_seconds)
    if filters.max_seconds is not None:
        query = query.where(Recording.duration_seconds <= filters.max_seconds)
    return query


def _row(result) -> RecordingRow:
    recording, call, patient_name, card, agent_name, campaign_name, disposition = result
    return RecordingRow(recording, call, patient_name, card, agent_name, campaign_name, disposition)


def list_recordings(
    session: Session, user: User, filters: Filters, *, page: int = 1, per_page: int = 25
) -> Page:
    """Recordings of calls, newest call first, narrowed by ``filters``."""
    authz.require(user, "recordings.read")
    if page < 1:
        raise InvalidInput("page must be 1 or more", {"field": "page"})
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"per_page must be between 1 and {MAX_PER_PAGE}", {"field": "per_page"})
    query = _filtered(_base(), filters.check())
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.execute(
        query.order_by(CallAttempt.started_at.desc(), Recording.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page([_row(r) for r in rows], total, page, per_page)


def _one(session: Session, recording_id: int) -> RecordingRow:
    result = session.execute(_base().where(Recording.id == recording_id)).one_or_none()
    if result is None:
        raise NotFound(f"recording {recording_id} not found", {"recording_id": recording_id})
    return _row(result)


def view(session: Session, user: User, recording_id: int) -> RecordingView:
    """Open one recording for the player; the view is written to the audit ledger."""
    authz.require(user, "recordings.play")
    row = _one(session, recording_id)
    log = session.scalar(
        select(FollowUpLog)
        .where(FollowUpLog.call_attempt_id == row.call.id)
        .order_by(FollowUpLog.id.desc())
        .limit(1)
    )
    audit.append(
        session,
        audit.Actor.of(user),
        "recording.viewed",
        "recording",
        recording_id,
        {"call_attempt_id": row.call.id, "patient_id": row.call.patient_id},
    )
    return RecordingView(row, log)


def summary(session: Session, user: User, recording_id: int) -> RecordingRow:
    """The recording's call facts without patient identity, for transcript readers (QA)."""
    authz.require(user, "transcripts.read")
    return _one(session, recording_id)


def accesses(session: Session, user: User, recording_id: int, limit: int = 500) -> list:
    """Ledger entries about this recording, newest first: views, plays, downloads, reads."""
    authz.require(user, "recordings.read")
    _one(session, recording_id)
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.object_type == "recording", AuditEntry.object_id == str(recording_id))
            .order_by(AuditEntry.seq.desc())
            .limit(limit)
        )
    )
