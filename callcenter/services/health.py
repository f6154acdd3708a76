"""Health data changes: every write lands in the audit ledger."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.models import Observation, ObservationSource, User
from callcenter.services import audit, indicators, patients
from callcenter.services.patients import Page


def add_observation(
    session: Session, actor: audit.Actor, patient_id: int, data: dict
) -> Observation:
    """Record one indicator value; the caller has already checked the patient is visible."""
    known = indicators.CATALOG.get(data["code"])
    observation = Observation(
        patient_id=patient_id,
        code=data["code"],
        name=data.get("name") or (known.name_en if known else data["code"]),
        value=data["value"],
        unit=data.get("unit") or (known.unit if known else ""),
        ref_low=data.get("ref_low", known.ref_low if known else None),
        ref_high=data.get("ref_high", known.ref_high if known else None),
        taken_at=data["taken_at"],
        source=ObservationSource(data.get("source", ObservationSource.MANUAL)),
    )
    session.add(observation)
    session.flush()
    audit.append(
        session,
        actor,
        "observation.create",
        "patient",
        patient_id,
        {
            "observation_id": observation.id,
            "code": observation.code,
            "source": str(observation.source),
        },
    )
    return observation


def list_observations(
    session: Session, user: User, patient_id: int, *, code: str | None, page: int, per_page: int
) -> Page:
    patient = patients.get_visible(session, user, patient_id)
    query = select(Observation).where(Observation.patient_id == patient.id)
    if code:
        query = query.where(Observation.code == code)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    items = session.scalars(
        query.order_by(Observation.taken_at.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    audit.append(
        session,
        audit.Actor.of(user),
        "observation.read",
        "patient",
        patient.id,
        {"code": code, "page": page},
    )
    return Page(list(items), total, page, per_page)
