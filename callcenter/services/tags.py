"""Tags and their assignment to patients."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.errors import Conflict, NotFound
from callcenter.models import PatientTag, Tag, TagSource, User
from callcenter.services import audit, patients


def list_with_counts(session: Session) -> list[tuple[Tag, int]]:
    counts = (
        select(PatientTag.tag_id, func.count().label("n")).group_by(PatientTag.tag_id).subquery()
    )
    rows = session.execute(
        select(Tag, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.tag_id == Tag.id)
        .order_by(Tag.name)
    ).all()
    return [(tag, n) for tag, n in rows]


def create(
    session: Session,
    actor: audit.Actor,
    name: str,
    colour: str,
    source: TagSource = TagSource.MANUAL,
) -> Tag:
    if session.scalar(select(Tag.id).where(Tag.name == name)):
        raise Conflict(f"tag {name!r} already exists", {"field": "name"})
    tag = Tag(name=name, colour=colour, source=source)
    session.add(tag)
    session.flush()
    audit.append(session, actor, "tag.create", "tag", tag.id, {"name": name})
    return tag


def get_or_create(
    session: Session, name: str, colour: str = "#6b7280", source: TagSource = TagSource.MANUAL
) -> Tag:
    tag = session.scalar(select(Tag).where(Tag.name == name))
    if tag is None:
        tag = Tag(name=name, colour=colour, source=source)
        session.add(tag)
        session.flush()
    return tag


def tag_patient(session: Session, user: User, patient_id: int, tag_name: str) -> Tag:
    patient = patients.get_visible(session, user, patient_id)
    tag = session.scalar(select(Tag).where(Tag.name == tag_name))
    if tag is None:
        raise NotFound(f"tag {tag_name!r} not found", {"tag": tag_name})
    if session.get(PatientTag, (patient.id, tag.id)) is None:
        session.add(PatientTag(patient_id=patient.id, tag_id=tag.id))
        audit.append(
            session, audit.Actor.of(user), "patient.tag", "patient", patient.id, {"tag": tag.name}
        )
    return tag


def untag_patient(session: Session, user: User, patient_id: int, tag_id: int) -> None:
    patient = patients.get_visible(session, user, patient_id)
    link = session.get(PatientTag, (patient.id, tag_id))
    if link is None:
        raise NotFound(f"patient {patient_id} has no tag {tag_id}")
    session.delete(link)
    audit.append(
        session, audit.Actor.of(user), "patient.untag", "patient", patient.id, {"tag_id": tag_id}
    )
