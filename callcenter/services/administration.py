"""Admin use cases behind the admin pages: campaigns from a patient filter, trunks, do-not-call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from callcenter.errors import Conflict, InvalidInput, NotFound
from callcenter.models import (
    Campaign,
    FollowUpTask,
    Patient,
    PatientTag,
    Sex,
    Tag,
    TaskState,
    Trunk,
    User,
)
from callcenter.services import audit, authz, campaigns
from callcenter.services.patients import Page

MAX_AGE = 130


@dataclass(frozen=True)
class PatientFilter:
    """Which patients a new campaign calls; every given condition must hold."""

    tag: str | None = None
    sex: Sex | None = None
    min_age: int | None = None
    max_age: int | None = None
    only_consenting: bool = True  # skip patients who may not be phoned at all

    def check(self) -> PatientFilter:
        for name in ("min_age", "max_age"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= MAX_AGE:
                raise InvalidInput(f"{name} must be between 0 and {MAX_AGE}", {"field": name})
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise InvalidInput("min_age is larger than max_age", {"field": "min_age"})
        if not (self.tag or self.sex or self.min_age is not None or self.max_age is not None):
            raise InvalidInput(
                "choose a tag or another patient filter: a campaign never calls everyone",
                {"field": "tag"},
            )
        return self

    def as_details(self) -> dict:
        return {k: str(v) for k, v in self.__dict__.items() if v is not None}


def _years_before(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def matching_patients(session: Session, flt: PatientFilter, today: date):
    """A select of the ids of patients that ``flt`` picks."""
    query = select(Patient.id)
    if flt.tag:
        tag_id = session.scalar(select(Tag.id).where(Tag.name == flt.tag))
        if tag_id is None:
            raise InvalidInput(f"there is no tag {flt.tag!r}", {"field": "tag"})
        query = query.where(
            Patient.id.in_(select(PatientTag.patient_id).where(PatientTag.tag_id == tag_id))
        )
    if flt.sex is not None:
        query = query.where(Patient.sex == flt.sex)
    if flt.min_age is not None:
        query = query.where(Patient.birth_date <= _years_before(today, flt.min_age))
    if flt.max_age is not None:
        query = query.where(Patient.birth_date > _years_before(today, flt.max_age + 1))
    if flt.only_consenting:
        query = query.where(Patient.consent_call.is_(True), Patient.do_not_call.is_(False))
    return query


def create_campaign(
    session: Session, user: User, data: dict, flt: PatientFilter, today: date
) -> tuple[Campaign, int]:
    """Create a campaign and one pending task per patient the filter picks."""
    authz.require(user, "campaigns.write")
    flt.check()
    patient_ids = session.scalars(matching_patients(session, flt, today)).all()
    campaign = campaigns.create(session, user, data)
    if patient_ids:
        session.execute(
            insert(FollowUpTask),
            [
                {"campaign_id": campaign.id, "patient_id": pid, "state": TaskState.PENDING}
                for pid in patient_ids
            ],
        )
    audit.append(
        session,
        audit.Actor.of(user),
        "campaign.tasks_created",
        "campaign",
        campaign.id,
        {"tasks": len(patient_ids), "filter": flt.as_details()},
    )
    return campaign, len(patient_ids)


def create_trunk(session: Session, user: User, data: dict) -> Trunk:
    authz.require(user, "trunks.manage")
    if session.scalar(select(Trunk.id).where(Trunk.name == data["name"])):
        raise Conflict(f"trunk {data['name']!r} already exists", {"field": "name"})
    trunk = Trunk(**data)
    session.add(trunk)
    session.flush()
    audit.append(
        session, audit.Actor.of(user), "trunk.create", "trunk", trunk.id, {"name": trunk.name}
    )
    return trunk


def do_not_call_list(session: Session, user: User, *, page: int, per_page: int = 50) -> Page:
    authz.require(user, "donotcall.manage")
    query = select(Patient).where(Patient.do_not_call.is_(True))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    items = session.scalars(
        query.order_by(Patient.updated_at.desc(), Patient.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(list(items), total, page, per_page)


def set_do_not_call(
    session: Session, user: User, card_number: str, on: bool, reason: str = ""
) -> Patient:
    """Put a patient (by card number) on the do-not-call list, or take them off it."""
    authz.require(user, "donotcall.manage")
    card_number = card_number.strip()
    if not card_number:
        raise InvalidInput("give the patient's card number", {"field": "card_number"})
    patient = session.scalar(select(Patient).where(Patient.card_number == card_number))
    if patient is None:
        raise NotFound(f"no patient has card number {card_number!r}", {"field": "card_number"})
    if on and not reason.strip():
        raise InvalidInput("say why the patient must not be called", {"field": "reason"})
    patient.do_not_call = on
    patient.do_not_call_reason = reason.strip() if on else None
    audit.append(
        session,
        audit.Actor.of(user),
        "patient.do_not_call" if on else "patient.do_not_call_removed",
        "patient",
        patient.id,
        {"reason": reason.strip()} if on else {},
    )
    return patient
