"""FHIR R4 Bundle import: Patients and Observations, blood pressure as a LOINC panel."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from callcenter.extensions import db
from callcenter.models import ImportStatus, Observation, ObservationSource, Patient, Sex
from callcenter.services import imports
from callcenter.services.imports import ImportSettings

SETTINGS = ImportSettings(region="CN", timezone="Asia/Shanghai", language="zh")


def loinc(code: str, text: str | None = None) -> dict:
    concept = {"coding": [{"system": "http://loinc.org", "code": code}]}
    if text:
        concept["text"] = text
    return concept


def bundle() -> dict:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:6c4b1c1e-0000-4000-8000-000000000001",
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": "urn:clinic:card", "value": "F1001"}],
                    "name": [{"family": "王", "given": ["小明"]}],
                    "gender": "male",
                    "birthDate": "1958-04-12",
                    "telecom": [
                        {"system": "email", "value": "x@example.org"},
                        {"system": "phone", "value": "138 0013 8000"},
                    ],
                    "communication": [
                        {"language": {"coding": [{"code": "zh-CN"}]}, "preferred": True}
                    ],
                },
            },
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": "p2",
                    "identifier": [{"value": "F1002"}],
                    "name": [{"use": "official", "family": "Smith", "given": ["Mary", "Ann"]}],
                    "gender": "female",
                    "telecom": [{"system": "phone", "value": "+1 415 555 2671"}],
                    "communication": [{"language": {"coding": [{"code": "en"}]}}],
                },
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": loinc("85354-9", "Blood pressure panel"),
                    "subject": {"reference": "urn:uuid:6c4b1c1e-0000-4000-8000-000000000001"},
                    "effectiveDateTime": "2026-03-01T09:30:00+08:00",
                    "component": [
                        {"code": loinc("8480-6"), "valueQuantity": {"value": 152, "unit": "mmHg"}},
                        {"code": loinc("8462-4"), "valueQuantity": {"value": 95, "unit": "mmHg"}},
                    ],
                },
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": loinc("1558-6"),
                    "subject": {"reference": "Patient/p2"},
                    "effectiveDateTime": "2026-02-10",
                    "valueQuantity": {"value": 5.4, "unit": "mmol/L"},
                },
            },
        ],
    }


def run(data: dict | bytes):
    raw = data if isinstance(data, bytes) else json.dumps(data, ensure_ascii=False).encode()
    job = imports.submit(db.session, None, "bundle.json", raw, imports.guess_format("b.json", raw))
    db.session.commit()
    return imports.run(db.session, job.id, SETTINGS)


@pytest.mark.parametrize("db_kind", ["postgresql", "sqlite"], indirect=True)
def test_bundle_creates_patients_and_observations(app):
    job = run(bundle())
    assert job.status is ImportStatus.SUCCEEDED, job.errors
    assert job.summary["created"] == 2 and job.summary["observations_created"] == 3
    wang = db.session.scalar(select(Patient).where(Patient.card_number == "F1001"))
    assert (wang.name, wang.sex, wang.language) == ("王小明", Sex.MALE, "zh")
    assert [p.number for p in wang.phones] == ["+8613800138000"]
    bp = {
        o.code: o
        for o in db.session.scalars(select(Observation).where(Observation.patient_id == wang.id))
    }
    assert (bp["8480-6"].value, bp["8462-4"].value) == (152, 95)
    assert bp["8480-6"].unit == "mmHg" and bp["8480-6"].out_of_range
    assert bp["8480-6"].taken_at.isoformat() == "2026-03-01T01:30:00+00:00"
    assert bp["8480-6"].source is ObservationSource.IMPORT
    mary = db.session.scalar(select(Patient).where(Patient.card_number == "F1002"))
    assert mary.name == "Mary Ann Smith" and mary.language == "en"
    glucose = db.session.scalar(select(Observation).where(Observation.patient_id == mary.id))
    # A date without a time is midnight in the clinic's timezone.
    assert glucose.taken_at.isoformat() == "2026-02-09T16:00:00+00:00"
    assert glucose.ref_high == 6.1  # filled in from the catalog


def test_same_bundle_twice_changes_nothing(app):
    run(bundle())
    job = run(bundle())
    assert job.summary["unchanged"] == 2
    assert job.summary["observations_created"] == 0
    assert job.summary["observations_updated"] == 0
    assert db.session.scalar(select(func.count(Observation.id))) == 3


def test_corrected_value_updates_the_observation(app):
    run(bundle())
    data = bundle()
    data["entry"][2]["resource"]["component"][0]["valueQuantity"]["value"] = 148
    job = run(data)
    assert job.summary["observations_updated"] == 1
    values = db.session.scalars(select(Observation.value).where(Observation.code == "8480-6"))
    assert list(values) == [148]


def _errors(data) -> list[dict]:
    job = run(data)
    assert job.status is ImportStatus.REJECTED
    assert db.session.scalar(select(func.count(Patient.id))) == 0
    return job.errors


def test_errors_name_the_entry_and_the_path(app):
    data = bundle()
    data["entry"][0]["resource"]["birthDate"] = "12/04/1958"
    data["entry"][1]["resource"]["telecom"][0]["value"] = "555"
    del data["entry"][2]["resource"]["component"][1]
    data["entry"][3]["resource"]["subject"]["reference"] = "Patient/nobody"
    errors = _errors(data)
    assert [(e["row"], e["column"]) for e in errors] == [
        (1, "Patient.birthDate"),
        (2, "Patient.telecom[0].value"),
        (3, "Observation.component"),
        (4, "Observation.subject.reference"),
    ]


def test_non_numeric_value_is_reported(app):
    data = bundle()
    data["entry"][3]["resource"]["valueQuantity"]["value"] = "high"
    assert _errors(data) == [
        {
            "row": 4,
            "column": "Observation.valueQuantity.value",
            "reason": "not a number",
            "value": "high",
        }
    ]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"resourceType": "Patient"}', "not a FHIR Bundle"),
        (b'{"resourceType": "Bundle", "entry": []}', "no entries"),
    ],
)
def test_bad_documents_are_refused(app, raw, reason):
    assert reason in _errors(raw)[0]["reason"]


def test_unsupported_resources_are_refused_not_skipped(app):
    data = bundle()
    data["entry"].append({"resource": {"resourceType": "Encounter"}})
    assert _errors(data)[0]["reason"] == "only Patient and Observation are imported"
