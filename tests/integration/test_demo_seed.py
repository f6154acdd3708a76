"""``flask demo seed`` through the real CLI, on PostgreSQL and SQLite."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from callcenter.extensions import db
from callcenter.models import (
    AuditEntry,
    Campaign,
    CampaignKind,
    ConsentMethod,
    ExamReport,
    FollowUpTask,
    Observation,
    ObservationSource,
    Patient,
    PatientTag,
    Role,
    Tag,
    TaskState,
    User,
)
from callcenter.services import accounts, demo, indicators, phones
from callcenter.web.api.schemas import QuestionSchema
from tests import factories

both_databases = pytest.mark.parametrize("db_kind", ["postgresql", "sqlite"], indirect=True)
USER_LINE = re.compile(r"^  (\S+)\s+(\S+)\s+(\S+)$", re.MULTILINE)
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _counts() -> dict[str, int]:
    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
    return {
        m.__name__: count(m)
        for m in (User, Patient, Observation, Campaign, FollowUpTask, PatientTag, AuditEntry)
    }


def _seed(runner):
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


@both_databases
def test_seed_creates_demo_data_once(app):
    runner = app.test_cli_runner()
    output = _seed(runner)

    users = USER_LINE.findall(output)
    assert [(u, r) for u, r, _ in users] == [
        ("admin", "admin"),
        ("supervisor", "supervisor"),
        ("qa", "qa"),
        ("agent", "agent"),
        ("agent2", "agent"),
    ]
    for username, _role, password in users:
        assert accounts.authenticate(db.session, username, password) is not None, username
    agents = {u.username: u for u in db.session.scalars(select(User).where(User.role == "agent"))}
    assert (agents["agent"].sip_extension, agents["agent"].language) == ("1001", "zh")
    assert (agents["agent2"].sip_extension, agents["agent2"].language) == ("1002", "en")

    _check_patients()
    _check_observations()
    _check_campaigns(agents)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "demo.seed"))
    assert entry.details["patients"] == 50 and entry.details["observations"] > 0

    before = _counts()
    again = _seed(runner)
    assert "already present" in again
    assert not any(password in again for _u, _r, password in users)
    assert _counts() == before

    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output


def _check_patients() -> None:
    patients = db.session.scalars(select(Patient).order_by(Patient.card_number)).all()
    assert len(patients) == 50
    assert patients[0].card_number == "M000001"
    chinese = [p for p in patients if CHINESE.search(p.name)]
    english = [p for p in patients if re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", p.name)]
    assert len(chinese) == len(english) == 25
    assert {(p.language, p.timezone) for p in chinese} == {("zh", "Asia/Shanghai")}
    assert {p.language for p in english} == {"en"}
    assert {p.timezone for p in english} <= {
        "America/New_York", "America/Los_Angeles", "Europe/London"
    }  # fmt: skip
    for p in patients:
        assert len(p.phones) == 1
        number = p.phones[0].number
        assert phones.to_e164(number, "CN") == number
        prefix = "+86" if p in chinese else "+44" if p.timezone == "Europe/London" else "+1"
        assert number.startswith(prefix), (p.name, number)
        if p.consent_call:
            assert p.consent_call_method is ConsentMethod.WRITTEN and p.consent_call_at
    assert {n.startswith("+44") for p in english for n in [p.phones[0].number]} == {True, False}
    assert sum(p.consent_call for p in patients) > 40
    assert sum(p.do_not_call for p in patients) == 2
    ids = [p.id_number for p in patients if p.id_number]
    assert ids and all(re.fullmatch(r"\d{17}[\dX]", i) for i in ids)
    assert all(35 <= (p.created_at.date() - p.birth_date).days // 365.25 <= 85 for p in patients)


def _check_observations() -> None:
    spans = db.session.execute(
        select(
            Observation.patient_id,
            Observation.code,
            func.min(Observation.taken_at),
            func.max(Observation.taken_at),
        ).group_by(Observation.patient_id, Observation.code)
    ).all()
    by_patient: dict[int, set[str]] = {}
    for patient_id, code, first, last in spans:
        by_patient.setdefault(patient_id, set()).add(code)
        assert last - first >= timedelta(days=3 * 365), (patient_id, code)
    assert len(by_patient) == 50
    assert all(codes == set(indicators.CATALOG) for codes in by_patient.values())

    observations = db.session.scalars(select(Observation)).all()
    for o in observations:
        known = indicators.CATALOG[o.code]
        assert (o.unit, o.ref_low, o.ref_high) == (known.unit, known.ref_low, known.ref_high)
        assert o.taken_at.tzinfo is not None
    out = [o for o in observations if o.out_of_range]
    assert 0 < len(out) < len(observations) / 2
    assert {o.code for o in out} >= {indicators.SYSTOLIC, indicators.FASTING_GLUCOSE}
    from_reports = [o for o in observations if o.source is ObservationSource.EXAM_REPORT]
    assert from_reports and all(o.exam_report_id for o in from_reports)
    report = db.session.scalars(select(ExamReport)).first()
    assert len(report.items) >= 6


def _check_campaigns(agents: dict[str, User]) -> None:
    campaigns = {c.kind: c for c in db.session.scalars(select(Campaign))}
    assert set(campaigns) == {CampaignKind.AGENT, CampaignKind.IVR}
    bp, exam = campaigns[CampaignKind.AGENT], campaigns[CampaignKind.IVR]
    assert {a.user_id for a in bp.agents} == {agents["agent"].id, agents["agent2"].id}
    for campaign in (bp, exam):
        QuestionSchema(many=True).load(campaign.question_script)  # the API's own validation
    assert {q["type"] for q in bp.question_script} == {
        "blood_pressure", "yes_no", "choice", "number", "text"
    }  # fmt: skip

    tasks = db.session.scalars(select(FollowUpTask)).all()
    assert {t.state for t in tasks} == {TaskState.PENDING}
    hypertension = set(
        db.session.scalars(
            select(PatientTag.patient_id).join(Tag).where(Tag.name.startswith("高血压"))
        )
    )
    bp_patients = {t.patient_id for t in tasks if t.campaign_id == bp.id}
    assert bp_patients and bp_patients <= hypertension
    callable_ids = {p.id for p in db.session.scalars(select(Patient)) if p.callable}
    assert {t.patient_id for t in tasks if t.campaign_id == exam.id} == callable_ids
    assert {t.assigned_agent_id for t in tasks if t.campaign_id == bp.id} == {
        agents["agent"].id, agents["agent2"].id
    }  # fmt: skip


def test_an_existing_demo_user_means_nothing_is_seeded(app):
    factories.user("agent", Role.AGENT)
    before = _counts()
    assert "already present" in _seed(app.test_cli_runner())
    assert _counts() == before


@both_databases
def test_same_seed_same_patients(app):
    def snapshot() -> list[tuple]:
        result = demo.seed(db.session, patients=12, random_seed=3)
        assert result.created and result.patients == 12
        rows = db.session.execute(
            select(Patient.card_number, Patient.name, Observation.code, Observation.value)
            .join(Observation, Observation.patient_id == Patient.id)
            .order_by(Patient.card_number, Observation.code, Observation.taken_at)
        ).all()
        db.session.rollback()
        return rows

    assert snapshot() == snapshot()
