"""Patient records: search, read (audited), create and update."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, false, func, or_, select
from sqlalchemy.orm import Session

from callcenter.errors import Conflict, InvalidInput, NotFound
from callcenter.models import Patient, PatientPhone, PatientTag, Tag, User, utcnow
from callcenter.models.patient import name_key
from callcenter.services import audit, authz, phones
from callcenter.services.masking import mask_identifiers

EDITABLE_FIELDS = (
    "name",
    "sex",
    "birth_date",
    "timezone",
    "language",
    "id_number",
    "do_not_call",
    "do_not_call_reason",
)


@dataclass(frozen=True)
class Page:
    items: list
    total: int
    page: int
    per_page: int
    total_capped: bool = False  # more than ``total`` matched; counting stopped there


# Counting every match of a broad search costs more than the page itself; nobody pages through
# thousands of patients, so lists count up to here and say "more".
COUNT_CAP = 1000


def count_capped(session: Session, query: Select, page: int, per_page: int, shown: int):
    """Return (total, capped) without a COUNT when the page itself tells the total."""
    offset = (page - 1) * per_page
    if shown < per_page and (shown > 0 or page == 1):
        return offset + shown, False
    limited = query.order_by(None).with_only_columns(Patient.id).limit(COUNT_CAP + 1)
    total = session.scalar(select(func.count()).select_from(limited.subquery()))
    return min(total, COUNT_CAP), total > COUNT_CAP


def search(
    session: Session,
    user: User,
    q: str = "",
    *,
    tag: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page:
    """Find patients by name prefix, card number or phone; agents see only their campaigns'.

    Results are ordered by lower-case name; the plain list (no query) shows the newest patients
    first, which the primary key serves without sorting the whole table. One ledger entry
    records the search itself (who looked for what, phone numbers masked), not one per row.
    """
    query = authz.visible_patients(user)
    dialect = session.get_bind().dialect.name
    q = q.strip()
    if q:
        query = query.where(or_(*_match_conditions(session, q, dialect)))
    if tag:
        # Resolve the tag first: a probe per candidate on the (patient_id, tag_id) key is
        # cheaper than hashing every patient that carries a common tag.
        tag_id = session.scalar(select(Tag.id).where(Tag.name == tag))
        query = query.where(
            select(PatientTag.patient_id)
            .where(PatientTag.patient_id == Patient.id, PatientTag.tag_id == tag_id)
            .exists()
        )
    order = (name_key(dialect), Patient.id) if q else (Patient.id.desc(),)
    items = list(
        session.scalars(query.order_by(*order).limit(per_page).offset((page - 1) * per_page))
    )
    total, capped = count_capped(session, query, page, per_page, len(items))
    audit.append(
        session,
        audit.Actor.of(user),
        "patient.search",
        "patient",
        "*",
        {"q": mask_identifiers(q), "tag": tag, "page": page, "results": len(items)},
    )
    return Page(items, total, page, per_page, capped)


def _match_conditions(session: Session, q: str, dialect: str) -> list:
    """Name prefix, exact card number, or phone suffix.

    Card and phone matches are looked up first (both indexed, few rows) and enter as ids. The
    name condition is used only for text without digits: an OR beside it would stop PostgreSQL
    from reading the name index in order, and names have no digits while cards and phones do.
    """
    ids = list(session.scalars(select(Patient.id).where(Patient.card_number == q)))
    digits = phones.search_key(q)
    if len(digits) >= 4:
        # Phones are stored E.164; a typed national number or its last digits is a suffix,
        # which the reversed-digits column turns into an indexed prefix search.
        ids += session.scalars(
            select(PatientPhone.patient_id)
            .where(PatientPhone.digits_reversed.startswith(digits[::-1]))
            .distinct()
            .limit(COUNT_CAP + 1)
        ).all()
    conditions = []
    if not digits:
        conditions.append(name_key(dialect).startswith(q.lower(), autoescape=True))
    if ids:
        conditions.append(Patient.id.in_(ids))
    return conditions or [false()]


def get_visible(session: Session, user: User, patient_id: int) -> Patient:
    patient = session.scalar(authz.visible_patients(user).where(Patient.id == patient_id))
    if patient is None:
        # Same answer whether it does not exist or the agent may not see it: no probing.
        raise NotFound(f"patient {patient_id} not found", {"patient_id": patient_id})
    return patient


def read(session: Session, user: User, patient_id: int, purpose: str = "view") -> Patient:
    """Return a patient record and write the read into the audit ledger."""
    patient = get_visible(session, user, patient_id)
    audit.append(
        session, audit.Actor.of(user), "patient.read", "patient", patient.id, {"purpose": purpose}
    )
    return patient


def _normalize_phones(raw_numbers: list[str], region: str) -> list[str]:
    numbers: list[str] = []
    for raw in raw_numbers:
        number = phones.to_e164(raw, region)
        if number not in numbers:
            numbers.append(number)
    return numbers


def _set_phones(patient: Patient, numbers: list[str]) -> None:
    existing = {p.number: p for p in patient.phones}
    patient.phones = [existing.get(n) or PatientPhone(number=n) for n in numbers]
    for position, phone in enumerate(patient.phones):
        phone.position = position


def create(session: Session, user: User, data: dict, *, region: str, defaults: dict) -> Patient:
    card = data["card_number"].strip()
    if session.scalar(select(Patient.id).where(Patient.card_number == card)):
        raise Conflict(f"card number {card} already exists", {"field": "card_number"})
    patient = Patient(
        card_number=card,
        timezone=data.get("timezone") or defaults["timezone"],
        language=data.get("language") or defaults["language"],
    )
    for field in EDITABLE_FIELDS:
        if field in data and data[field] is not None:
            setattr(patient, field, data[field])
    _apply_consent(patient, data)
    _set_phones(patient, _normalize_phones(data.get("phones", []), region))
    session.add(patient)
    session.flush()
    audit.append(session, audit.Actor.of(user), "patient.create", "patient", patient.id, {})
    return patient


def update(session: Session, user: User, patient_id: int, data: dict, *, region: str) -> Patient:
    patient = get_visible(session, user, patient_id)
    changed = []
    for field in EDITABLE_FIELDS:
        if field in data and getattr(patient, field) != data[field]:
            setattr(patient, field, data[field])
            changed.append(field)
    if "phones" in data:
        numbers = _normalize_phones(data["phones"], region)
        if numbers != [p.number for p in patient.phones]:
            _set_phones(patient, numbers)
            changed.append("phones")
    changed += _apply_consent(patient, data)
    if changed:
        audit.append(
            session,
            audit.Actor.of(user),
            "patient.update",
            "patient",
            patient.id,
            {"fields": sorted(changed)},
        )
    return patient


def _apply_consent(patient: Patient, data: dict) -> list[str]:
    """Set consent flags, stamping when and how each was given or withdrawn."""
    changed = []
    for kind in ("call", "record"):
        key = f"consent_{kind}"
        if key not in data or data[key] is None or getattr(patient, key) == data[key]:
            continue
        method = data.get(f"{key}_method")
        if data[key] and not method:
            raise InvalidInput(f"{key}_method is required when giving consent", {"field": key})
        setattr(patient, key, data[key])
        setattr(patient, f"{key}_at", data.get(f"{key}_at") or utcnow())
        setattr(patient, f"{key}_method", method)
        changed.append(key)
    return changed


def age(patient: Patient, today: date | None = None) -> int | None:
    if patient.birth_date is None:
        return None
    today = today or date.today()
    b = patient.birth_date
    return today.year - b.year - ((today.month, today.day) < (b.month, b.day))
