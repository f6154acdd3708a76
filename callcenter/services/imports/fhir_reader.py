"""Read a FHIR R4 Bundle of Patient and Observation resources.

Errors name the bundle entry (1-based, reported as the row) and a FHIRPath-like location
(reported as the column), e.g. entry 7, ``Observation.component[1].valueQuantity.value``.
"""

from __future__ import annotations

import json
import zoneinfo
from datetime import date, datetime, time

from callcenter.errors import InvalidPhoneNumber
from callcenter.models import Sex
from callcenter.services import indicators, phones
from callcenter.services.imports.fields import FieldError, parse_language
from callcenter.services.imports.records import ErrorList, ObservationRecord, PatientRecord
from callcenter.services.indicators import BLOOD_PRESSURE_PANEL, CATALOG

LOINC = "http://loinc.org"
GENDERS = frozenset(sex.value for sex in Sex)


class _EntryError(Exception):
    def __init__(self, path: str, reason: str, value=None):
        super().__init__(reason)
        self.path, self.reason, self.value = path, reason, value


def read_bundle(
    data: bytes, *, region: str, default_timezone: str, card_system: str = ""
) -> tuple[list[PatientRecord], ErrorList]:
    errors = ErrorList()
    try:
        bundle = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        errors.add(0, "", "a FHIR Bundle must be UTF-8 JSON")
        return [], errors
    except json.JSONDecodeError as exc:
        errors.add(exc.lineno, f"character {exc.colno}", f"not valid JSON: {exc.msg}")
        return [], errors
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        errors.add(0, "resourceType", "the file is not a FHIR Bundle")
        return [], errors
    entries = bundle.get("entry") or []
    if not isinstance(entries, list) or not entries:
        errors.add(0, "Bundle.entry", "the Bundle has no entries")
        return [], errors

    tz = zoneinfo.ZoneInfo(default_timezone)
    patients: dict[str, PatientRecord] = {}  # reference -> record
    broken_refs: set[str] = set()  # patients with errors: still check their observations
    by_card: dict[str, int] = {}
    observations: list[tuple[int, dict]] = []
    for number, entry in enumerate(entries, start=1):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        try:
            if kind == "Patient":
                refs = _references(entry, resource, "Patient")
                broken_refs.update(refs)
                record = _patient(number, resource, region, card_system)
                first = by_card.get(record.card_number)
                if first is not None:
                    raise _EntryError(
                        "Patient.identifier",
                        f"card number already appears in entry {first}",
                        record.card_number,
                    )
                by_card[record.card_number] = number
                broken_refs.difference_update(refs)
                patients.update(dict.fromkeys(refs, record))
            elif kind == "Observation":
                observations.append((number, resource))
            else:
                raise _EntryError(
                    "resourceType", "only Patient and Observation are imported", str(kind)
                )
        except _EntryError as exc:
            _report(errors, number, exc)

    for number, resource in observations:
        try:
            subject = (resource.get("subject") or {}).get("reference") or ""
            values = _observations(resource, tz)
            if subject in patients:
                patients[subject].observations.extend(values)
            elif subject not in broken_refs:
                raise _EntryError(
                    "Observation.subject.reference",
                    "does not name a Patient in this Bundle",
                    subject,
                )
        except _EntryError as exc:
            _report(errors, number, exc)

    records = list({id(r): r for r in patients.values()}.values())
    records.sort(key=lambda r: r.row)
    if not records and not errors:
        errors.add(0, "Bundle.entry", "the Bundle has no Patient resources")
    return records, errors


def _report(errors: ErrorList, number: int, exc: _EntryError) -> None:
    errors.add(number, exc.path, exc.reason, None if exc.value is None else str(exc.value))


def _references(entry: dict, resource: dict, kind: str) -> list[str]:
    refs = []
    if entry.get("fullUrl"):
        refs.append(entry["fullUrl"])
    if resource.get("id"):
        refs.append(f"{kind}/{resource['id']}")
    return refs


def _patient(number: int, resource: dict, region: str, card_system: str) -> PatientRecord:
    identifiers = [i for i in resource.get("identifier") or [] if isinstance(i, dict)]
    if card_system:
        identifiers = [i for i in identifiers if i.get("system") == card_system]
    card = str(identifiers[0].get("value") or "").strip() if identifiers else ""
    if not card:
        where = f"identifier with system {card_system}" if card_system else "a value"
        raise _EntryError("Patient.identifier", f"needs {where}: the member card number")
    if len(card) > 64:
        raise _EntryError("Patient.identifier", "card number longer than 64 characters", card)

    name = _name(resource.get("name") or [])
    if not name:
        raise _EntryError("Patient.name", "the patient has no name")

    numbers = []
    for index, telecom in enumerate(resource.get("telecom") or []):
        if telecom.get("system") != "phone" or not telecom.get("value"):
            continue
        try:
            number = phones.to_e164(str(telecom["value"]), region)
        except InvalidPhoneNumber as exc:
            raise _EntryError(
                f"Patient.telecom[{index}].value", exc.message, telecom["value"]
            ) from None
        if number not in numbers:
            numbers.append(number)
    if not numbers:
        raise _EntryError("Patient.telecom", "the patient has no phone number")

    birth = None
    if resource.get("birthDate"):
        try:
            birth = date.fromisoformat(resource["birthDate"])
        except (TypeError, ValueError):
            raise _EntryError(
                "Patient.birthDate", "not a date (YYYY-MM-DD)", resource["birthDate"]
            ) from None

    gender = resource.get("gender")
    if gender is not None and gender not in GENDERS:
        raise _EntryError("Patient.gender", "must be male, female, other or unknown", gender)

    language = _language(resource.get("communication") or [])

    return PatientRecord(
        row=number,
        card_number=card,
        name=name,
        phones=numbers,
        sex=Sex(gender) if gender else None,
        birth_date=birth,
        language=language,
    )


def _language(communications: list) -> str | None:
    """The preferred communication language we speak, else the first one we speak."""
    ordered = sorted(communications, key=lambda c: not (isinstance(c, dict) and c.get("preferred")))
    for comm in ordered:
        if not isinstance(comm, dict):
            continue
        for coding in (comm.get("language") or {}).get("coding") or []:
            try:
                return parse_language(str(coding.get("code", "")))
            except FieldError:
                continue
    return None


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in text)


def _name(names: list) -> str:
    official = [n for n in names if isinstance(n, dict) and n.get("use") in (None, "official")]
    for n in official or [n for n in names if isinstance(n, dict)]:
        if n.get("text"):
            return str(n["text"]).strip()
        family = str(n.get("family") or "").strip()
        given = " ".join(str(g) for g in n.get("given") or []).strip()
        if _has_cjk(family + given):
            return (family + given).strip()  # 王小明: family first, no space
        full = f"{given} {family}".strip()
        if full:
            return full
    return ""


def _loinc(concept: dict | None) -> str | None:
    for coding in (concept or {}).get("coding") or []:
        if coding.get("system") == LOINC and coding.get("code"):
            return str(coding["code"])
    return None


def _effective(resource: dict, tz: zoneinfo.ZoneInfo) -> datetime:
    raw = resource.get("effectiveDateTime")
    if not raw:
        raise _EntryError("Observation.effectiveDateTime", "required: when it was measured")
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time(0), tz)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _EntryError("Observation.effectiveDateTime", "not a FHIR dateTime", raw) from None
    return value if value.tzinfo else value.replace(tzinfo=tz)


def _quantity(holder: dict, path: str) -> tuple[float, str]:
    quantity = holder.get("valueQuantity")
    if not isinstance(quantity, dict) or "value" not in quantity:
        raise _EntryError(f"{path}.valueQuantity.value", "a numeric value is required")
    value = quantity["value"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _EntryError(f"{path}.valueQuantity.value", "not a number", value)
    return float(value), str(quantity.get("unit") or quantity.get("code") or "")


def _range(holder: dict) -> tuple[float | None, float | None]:
    ranges = holder.get("referenceRange") or []
    if not ranges:
        return None, None
    low = (ranges[0].get("low") or {}).get("value")
    high = (ranges[0].get("high") or {}).get("value")
    return low, high


def _observation(code: str, holder: dict, path: str, taken_at: datetime) -> ObservationRecord:
    value, unit = _quantity(holder, path)
    known = CATALOG.get(code)
    low, high = _range(holder)
    return ObservationRecord(
        code=code,
        name=(holder.get("code") or {}).get("text") or (known.name_en if known else code),
        value=value,
        unit=unit or (known.unit if known else ""),
        taken_at=taken_at,
        ref_low=low if low is not None else (known.ref_low if known else None),
        ref_high=high if high is not None else (known.ref_high if known else None),
    )


def _observations(resource: dict, tz: zoneinfo.ZoneInfo) -> list[ObservationRecord]:
    code = _loinc(resource.get("code"))
    if code is None:
        raise _EntryError("Observation.code", "needs a LOINC coding (system http://loinc.org)")
    taken_at = _effective(resource, tz)
    if code != BLOOD_PRESSURE_PANEL:
        return [_observation(code, resource, "Observation", taken_at)]
    # Blood pressure comes as a panel with systolic and diastolic components.
    found = []
    for index, component in enumerate(resource.get("component") or []):
        part = _loinc(component.get("code"))
        if part in (indicators.SYSTOLIC, indicators.DIASTOLIC):
            found.append(_observation(part, component, f"Observation.component[{index}]", taken_at))
    if {o.code for o in found} != {indicators.SYSTOLIC, indicators.DIASTOLIC}:
        raise _EntryError(
            "Observation.component", "a blood-pressure panel needs components 8480-6 and 8462-4"
        )
    return found
