"""Who plays or downloads a recording, and the ledger entries that prove it.

Browsers fetch audio in many range requests (one per seek or buffer refill). The first request
of a play is audited, and then at most one entry per user, recording and ``PLAY_AUDIT_WINDOW``,
so the ledger says who listened without one entry per buffered chunk. A download is always
audited.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.errors import CallcenterError, NotFound
from callcenter.models import AuditEntry, Recording, RecordingStatus, User, utcnow
from callcenter.services import audit

PLAY_AUDIT_WINDOW = timedelta(minutes=10)


class RecordingUnavailable(CallcenterError):
    error_id = "recording-unavailable"
    status = 409


class RecordingTampered(CallcenterError):
    """The stored file failed its integrity check: it is never served."""

    error_id = "recording-integrity-failed"
    status = 500


def stored_recording(session: Session, recording_id: int) -> Recording:
    """A recording whose encrypted copy exists (it may still be being transcribed)."""
    recording = session.get(Recording, recording_id)
    if recording is None:
        raise NotFound(f"recording {recording_id} does not exist")
    if recording.storage_key is None:
        why = recording.failure_reason or f"it is {recording.status} and not stored yet"
        raise RecordingUnavailable(f"recording {recording_id} cannot be played: {why}")
    return recording


def record_access(session: Session, user: User, recording: Recording, *, download: bool) -> bool:
    """Write the ledger entry for this play or download; whether one was written."""
    action = "recording.downloaded" if download else "recording.played"
    if not download:
        since = utcnow() - PLAY_AUDIT_WINDOW
        recent = session.scalar(
            select(AuditEntry.id)
            .where(
                AuditEntry.action == action,
                AuditEntry.actor_id == user.id,
                AuditEntry.object_type == "recording",
                AuditEntry.object_id == str(recording.id),
                AuditEntry.at >= since,
            )
            .limit(1)
        )
        if recent is not None:
            return False
    audit.append(
        session,
        audit.Actor.of(user),
        action,
        "recording",
        recording.id,
        {"call_id": recording.call_attempt_id, "sha256": recording.sha256},
    )
    return True


def record_tampering(session: Session, user: User, recording: Recording, detail: str) -> None:
    audit.append(
        session,
        audit.Actor.of(user),
        "recording.integrity_failed",
        "recording",
        recording.id,
        {"detail": detail[:500]},
    )
    if recording.status is RecordingStatus.READY:
        recording.failure_reason = f"integrity check failed: {detail}"[:2000]
