"""Write validated patient records in bulk: insert new, update changed, leave equal ones alone.

Works in batches of card numbers inside the caller's transaction, so the whole import commits or
rolls back as one. Comparing with what is stored first makes a repeated import a no-op: no row is
rewritten, no ``updated_at`` moves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import delete, insert, select, tuple_, update
from sqlalchemy.orm import Session

from callcenter.models import (
    ConsentMethod,
    Observation,
    ObservationSource,
    Patient,
    PatientPhone,
    PatientTag,
    Sex,
    Tag,
    TagSource,
    utcnow,
)
from callcenter.models.patient import reversed_digits
from callcenter.services.imports.bulk import insert_rows
from callcenter.services.imports.records import PatientRecord

BATCH = 2000
NO_CONSENT = {
    f"consent_{kind}{suffix}": value
    for kind in ("call", "record")
    for suffix, value in (("", False), ("_at", None), ("_method", None))
}
SIMPLE_FIELDS = ("name", "sex", "birth_date", "timezone", "language", "id_number", "do_not_call")


@dataclass
class WriteSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    observations_created: int = 0
    observations_updated: int = 0
    tags_added: int = 0
    changed_patient_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "observations_created": self.observations_created,
            "observations_updated": self.observations_updated,
            "tags_added": self.tags_added,
        }


@dataclass(frozen=True)
class Defaults:
    timezone: str
    language: str


def write_records(
    session: Session,
    records: list[PatientRecord],
    defaults: Defaults,
    *,
    observation_source: ObservationSource = ObservationSource.IMPORT,
    on_progress: Callable[[int], None] | None = None,
) -> WriteSummary:
    summary = WriteSummary()
    tag_ids = _ensure_tags(session, {t for r in records for t in r.tags})
    for start in range(0, len(records), BATCH):
        batch = records[start : start + BATCH]
        ids = _upsert_patients(session, batch, defaults, summary)
        _write_tags(session, batch, ids, tag_ids, summary)
        _write_observations(session, batch, ids, observation_source, summary)
        if on_progress:
            on_progress(start + len(batch))
    return summary


def _ensure_tags(session: Session, names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    existing = dict(session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(names))).all())
    missing = sorted(names - existing.keys())
    if missing:
        now = utcnow()
        rows = session.execute(
            insert(Tag).returning(Tag.name, Tag.id),
            [
                {"name": n, "colour": "#6b7280", "source": TagSource.MANUAL, "created_at": now}
                for n in missing
            ],
        ).all()
        existing.update(dict(rows))
    return existing


def _desired(record: PatientRecord, current: dict | None, defaults: Defaults) -> dict:
    """Column values the record asks for; what the file leaves out keeps its current value."""
    values = {
        "name": record.name,
        "sex": record.sex if record.sex is not None else (current or {}).get("sex", Sex.UNKNOWN),
        "birth_date": record.birth_date,
        "timezone": record.timezone or (current or {}).get("timezone") or defaults.timezone,
        "language": record.language or (current or {}).get("language") or defaults.language,
        "id_number": record.id_number,
        "do_not_call": record.do_not_call
        if record.do_not_call is not None
        else (current or {}).get("do_not_call", False),
    }
    if current is not None:
        for key in ("birth_date", "id_number"):
            if values[key] is None:
                values[key] = current[key]
    return values


def _consent(record: PatientRecord, current: dict | None) -> dict:
    """Consent columns that change, stamped with when and how (the import)."""
    out = {}
    now = utcnow()
    for kind in ("call", "record"):
        wanted = getattr(record, f"consent_{kind}")
        had = (current or {}).get(f"consent_{kind}", False)
        if wanted is None or wanted == had:
            continue
        out[f"consent_{kind}"] = wanted
        out[f"consent_{kind}_at"] = now
        out[f"consent_{kind}_method"] = ConsentMethod.IMPORT
    return out


def _upsert_patients(
    session: Session, batch: list[PatientRecord], defaults: Defaults, summary: WriteSummary
) -> dict[str, int]:
    cards = [r.card_number for r in batch]
    columns = [Patient.id, Patient.card_number, Patient.consent_call, Patient.consent_record]
    columns += [getattr(Patient, f) for f in SIMPLE_FIELDS]
    current = {
        row.card_number: row._asdict()
        for row in session.execute(select(*columns).where(Patient.card_number.in_(cards)))
    }
    phones_now: dict[int, list[str]] = {}
    if current:
        for pid, number in session.execute(
            select(PatientPhone.patient_id, PatientPhone.number)
            .where(PatientPhone.patient_id.in_([c["id"] for c in current.values()]))
            .order_by(PatientPhone.patient_id, PatientPhone.position)
        ):
            phones_now.setdefault(pid, []).append(number)

    now = utcnow()
    new_rows, updates, phone_changes = [], [], {}
    for record in batch:
        existing = current.get(record.card_number)
        values = _desired(record, existing, defaults)
        consent = _consent(record, existing)
        if existing is None:
            # Every row needs the same keys for one executemany.
            new_rows.append({
                "card_number": record.card_number, **values, **NO_CONSENT, **consent,
                "created_at": now, "updated_at": now,
            })  # fmt: skip
            continue
        changed = {k: v for k, v in values.items() if existing[k] != v}
        changed.update(consent)
        phones_differ = phones_now.get(existing["id"], []) != record.phones
        if changed or phones_differ:
            summary.updated += 1
            summary.changed_patient_ids.append(existing["id"])
            updates.append({"id": existing["id"], **changed, "updated_at": now})
            if phones_differ:
                phone_changes[existing["id"]] = record.phones
        else:
            summary.unchanged += 1

    ids = {card: row["id"] for card, row in current.items()}
    if updates:  # bulk UPDATE by primary key; SQLAlchemy groups rows by their changed columns
        session.execute(update(Patient), updates)
    _replace_phones(session, phone_changes)
    if new_rows:
        new_ids = insert_rows(session, Patient.__table__, new_rows, with_ids=True)
        summary.created += len(new_ids)
        ids.update({row["card_number"]: i for row, i in zip(new_rows, new_ids, strict=True)})
        _insert_phones(
            session, {ids[r.card_number]: r.phones for r in batch if r.card_number not in current}
        )
    return ids


def _replace_phones(session: Session, changes: dict[int, list[str]]) -> None:
    if changes:
        session.execute(delete(PatientPhone).where(PatientPhone.patient_id.in_(list(changes))))
        _insert_phones(session, changes)


def _insert_phones(session: Session, numbers_by_patient: dict[int, list[str]]) -> None:
    rows = [
        {
            "patient_id": pid,
            "number": number,
            "digits_reversed": reversed_digits(number),
            "kind": "mobile",
            "position": position,
        }
        for pid, numbers in numbers_by_patient.items()
        for position, number in enumerate(numbers)
    ]
    insert_rows(session, PatientPhone.__table__, rows)


def _write_tags(session, batch, ids, tag_ids, summary) -> None:
    wanted = {(ids[r.card_number], tag_ids[t]) for r in batch for t in r.tags}
    if not wanted:
        return
    have = set(
        session.execute(
            select(PatientTag.patient_id, PatientTag.tag_id).where(
                PatientTag.patient_id.in_({pid for pid, _ in wanted})
            )
        ).all()
    )
    missing = wanted - have
    if missing:
        now = utcnow()
        insert_rows(
            session,
            PatientTag.__table__,
            [{"patient_id": p, "tag_id": t, "created_at": now} for p, t in sorted(missing)],
        )
        summary.tags_added += len(missing)


def _write_observations(session, batch, ids, source, summary) -> None:
    incoming = {}
    for record in batch:
        pid = ids[record.card_number]
        for obs in record.observations:
            incoming[(pid, obs.code, obs.taken_at)] = obs
    if not incoming:
        return
    keys = list(incoming)
    existing = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        for row in session.execute(
            select(
                Observation.id,
                Observation.patient_id,
                Observation.code,
                Observation.taken_at,
                Observation.value,
                Observation.unit,
                Observation.ref_low,
                Observation.ref_high,
            ).where(
                tuple_(Observation.patient_id, Observation.code, Observation.taken_at).in_(chunk)
            )
        ):
            existing[(row.patient_id, row.code, row.taken_at)] = row
    new_rows, changed, now = [], [], utcnow()
    for (pid, code, taken_at), obs in incoming.items():
        current = existing.get((pid, code, taken_at))
        values = {
            "value": obs.value,
            "unit": obs.unit,
            "ref_low": obs.ref_low,
            "ref_high": obs.ref_high,
        }
        if current is None:
            new_rows.append(
                {
                    "patient_id": pid,
                    "code": code,
                    "name": obs.name,
                    "taken_at": taken_at,
                    "source": source,
                    "created_at": now,
                    **values,
                }
            )
        elif any(getattr(current, k) != v for k, v in values.items()):
            changed.append({"id": current.id, **values})
    if changed:
        session.execute(update(Observation), changed)
        summary.observations_updated += len(changed)
    insert_rows(session, Observation.__table__, new_rows)
    summary.observations_created += len(new_rows)
