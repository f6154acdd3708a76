"""CSV import: encodings Excel writes, every bad row reported, all-or-nothing, idempotent."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from callcenter.extensions import db
from callcenter.models import (
    AuditEntry,
    ConsentMethod,
    ImportStatus,
    Patient,
    PatientPhone,
    PatientTag,
    Sex,
)
from callcenter.services import imports
from callcenter.services.imports import ImportSettings

both_databases = pytest.mark.parametrize("db_kind", ["postgresql", "sqlite"], indirect=True)
SETTINGS = ImportSettings(region="CN", timezone="Asia/Shanghai", language="zh")

GOOD = (
    "card_number,name,sex,birth_date,phone,phone2,language,consent_call,consent_record,tags\n"
    "M1,王小明,男,1960-01-02,13800138000,,zh,是,是,高血压;糖尿病\n"
    "M2,Mary Smith,F,1955/03/04,+1 415 555 2671,+44 20 7946 0958,en,yes,no,\n"
    "M3,李秀英,女,19491001,139 1234 5678,,,1,1,高血压\n"
)


def run_import(data: bytes | str, filename: str = "patients.csv"):
    raw = data.encode("utf-8") if isinstance(data, str) else data
    job = imports.submit(db.session, None, filename, raw, imports.guess_format(filename, raw))
    db.session.commit()
    return imports.run(db.session, job.id, SETTINGS)


def patient_count() -> int:
    return db.session.scalar(select(func.count(Patient.id)))


@both_databases
def test_good_file_imports_every_field(app):
    job = run_import(GOOD)
    assert job.status is ImportStatus.SUCCEEDED, job.errors
    assert job.summary["created"] == 3
    p = db.session.scalar(select(Patient).where(Patient.card_number == "M1"))
    assert (p.name, p.sex, str(p.birth_date), p.language) == (
        "王小明",
        Sex.MALE,
        "1960-01-02",
        "zh",
    )
    assert [ph.number for ph in p.phones] == ["+8613800138000"]
    assert p.consent_call and p.consent_call_method is ConsentMethod.IMPORT
    assert p.consent_call_at is not None
    assert sorted(t.name for t in p.tags) == ["糖尿病", "高血压"]
    mary = db.session.scalar(select(Patient).where(Patient.card_number == "M2"))
    assert [ph.number for ph in mary.phones] == ["+14155552671", "+442079460958"]
    assert mary.consent_call and not mary.consent_record
    li = db.session.scalar(select(Patient).where(Patient.card_number == "M3"))
    assert li.timezone == "Asia/Shanghai" and li.language == "zh"  # defaults
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "patients.import"))
    assert entry.details["created"] == 3 and entry.details["sha256"] == job.sha256


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda t: t.encode("utf-8"), id="utf-8"),
        pytest.param(lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"), id="utf-8-bom"),
        pytest.param(lambda t: t.encode("gb18030"), id="gb18030"),
        pytest.param(lambda t: t.replace("\n", "\r\n").encode("gb18030"), id="gb18030-crlf"),
    ],
)
def test_excel_encodings_give_the_same_patients(app, encode):
    job = run_import(encode(GOOD))
    assert job.status is ImportStatus.SUCCEEDED, job.errors
    names = db.session.scalars(select(Patient.name).order_by(Patient.card_number)).all()
    assert names == ["王小明", "Mary Smith", "李秀英"]


def test_chinese_headers_are_understood(app):
    data = "卡号,姓名,性别,出生日期,手机,标签\nM9,赵六,女,1970-07-07,13700137000,高龄\n"
    job = run_import(data.encode("gb18030"))
    assert job.status is ImportStatus.SUCCEEDED, job.errors
    assert db.session.scalar(select(Patient.sex).where(Patient.card_number == "M9")) is Sex.FEMALE


def _errors(data) -> list[dict]:
    job = run_import(data)
    assert job.status is ImportStatus.REJECTED
    assert patient_count() == 0, "a rejected import must write nothing"
    return job.errors


@both_databases
def test_bad_phone_is_reported_with_row_and_column_and_nothing_is_written(app):
    data = GOOD + "M4,坏号码,男,1960-01-01,12345,,,,,\n"
    errors = _errors(data)
    assert errors == [
        {
            "row": 5,
            "column": "E (phone)",
            "value": "12345",
            "reason": "'12345' is not a valid number for region CN",
        }
    ]


def test_bad_date_is_reported(app):
    errors = _errors(GOOD + "M4,某人,男,1960-13-45,13800138004,,,,,\n")
    assert errors[0]["row"] == 5 and errors[0]["column"] == "D (birth_date)"
    assert "not a date" in errors[0]["reason"]


def test_future_birth_date_is_reported(app):
    errors = _errors(GOOD + "M4,某人,男,2999-01-01,13800138004,,,,,\n")
    assert errors[0]["reason"] == "date is in the future"


def test_duplicate_card_in_one_file_names_both_rows(app):
    errors = _errors(GOOD + "M2,Someone Else,M,1950-01-01,13800138005,,,,,\n")
    assert errors == [
        {
            "row": 5,
            "column": "A (card_number)",
            "value": "M2",
            "reason": "card number already appears in row 3",
        }
    ]


def test_every_bad_row_is_reported_not_only_the_first(app):
    data = (
        "card_number,name,phone,sex,consent_call\n"
        "A1,,13800138000,男,是\n"
        "A2,张三,,男,是\n"
        "A3,李四,13800138003,boy,是\n"
        "A4,王五,13800138004,男,maybe\n"
    )
    errors = _errors(data)
    assert [(e["row"], e["column"]) for e in errors] == [
        (2, "B (name)"),
        (3, "C (phone)"),
        (4, "D (sex)"),
        (5, "E (consent_call)"),
    ]


def test_wrong_encoding_is_refused_with_a_reason(app):
    errors = _errors("card_number,name,phone\nM1,Zoë,13800138000\n".encode("utf-16"))
    assert "UTF-16" in errors[0]["reason"]
    errors = _errors(b"card_number,name,phone\nM1,\xff\xfe\xff,13800138000\n")
    assert errors == [
        {"row": 2, "column": "", "reason": "the file is neither UTF-8 nor GB18030 text"}
    ]


def test_empty_file_is_refused(app):
    assert _errors(b"")[0]["reason"] == "the file is empty"
    assert _errors(b"\xef\xbb\xbf\r\n")[0]["reason"] == "the file is empty"


def test_header_only_file_is_refused(app):
    assert "no patient rows" in _errors("card_number,name,phone\n")[0]["reason"]


def test_unknown_and_missing_columns_are_named(app):
    errors = _errors("card_number,name,favourite_colour\nM1,x,blue\n")
    assert {(e["row"], e["column"]) for e in errors} == {(1, "C (favourite_colour)"), (1, "phone")}


def test_extra_cells_beyond_the_header_are_refused(app):
    errors = _errors("card_number,name,phone\nM1,x,13800138000,surprise\n")
    assert errors[0]["row"] == 2 and errors[0]["column"].startswith("D")


@both_databases
def test_importing_the_same_file_twice_changes_nothing(app):
    run_import(GOOD)
    before = db.session.execute(
        select(Patient.id, Patient.updated_at, Patient.consent_call_at).order_by(Patient.id)
    ).all()
    phones_before = db.session.execute(select(PatientPhone.id, PatientPhone.number)).all()
    job = run_import(GOOD)
    assert job.summary == {
        "rows": 3,
        "created": 0,
        "updated": 0,
        "unchanged": 3,
        "observations_created": 0,
        "observations_updated": 0,
        "tags_added": 0,
    }
    db.session.expire_all()
    after = db.session.execute(
        select(Patient.id, Patient.updated_at, Patient.consent_call_at).order_by(Patient.id)
    ).all()
    assert after == before
    assert db.session.execute(select(PatientPhone.id, PatientPhone.number)).all() == phones_before
    assert db.session.scalar(select(func.count()).select_from(PatientTag)) == 3


@both_databases
def test_a_changed_row_updates_only_that_patient(app):
    run_import(GOOD)
    stamp = db.session.scalar(select(Patient.updated_at).where(Patient.card_number == "M1"))
    changed = GOOD.replace("13800138000", "13800138999").replace("Mary Smith", "Mary Jones")
    job = run_import(changed)
    assert (job.summary["created"], job.summary["updated"], job.summary["unchanged"]) == (0, 2, 1)
    db.session.expire_all()
    p = db.session.scalar(select(Patient).where(Patient.card_number == "M1"))
    assert [ph.number for ph in p.phones] == ["+8613800138999"]
    assert p.updated_at > stamp  # a phone-only change still marks the patient as changed


def test_fields_the_file_leaves_out_are_kept(app):
    run_import(GOOD)
    job = run_import("card_number,name,phone\nM1,王小明,13800138000\n")
    assert job.summary["unchanged"] == 1
    p = db.session.scalar(select(Patient).where(Patient.card_number == "M1"))
    assert p.sex is Sex.MALE and str(p.birth_date) == "1960-01-02" and p.consent_call


@pytest.mark.slow
def test_hundred_thousand_rows_all_or_nothing(app):
    """A bad row at the very end of 100k rows means none of the 99,999 good ones land."""
    from bench.data import patient_csv

    data = patient_csv(100_000, bad_last_row=True)
    job = run_import(data)
    assert job.status is ImportStatus.REJECTED
    assert job.errors[0]["row"] == 100_001
    assert patient_count() == 0

    job = run_import(patient_csv(100_000))
    assert job.status is ImportStatus.SUCCEEDED, job.errors[:3]
    assert patient_count() == 100_000
    assert db.session.scalar(select(func.count(PatientPhone.id))) >= 100_000
