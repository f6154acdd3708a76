"""What the agent desk shows: the agent's queue and the screen pop of a call's patient."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callcenter.errors import NotFound
from callcenter.models import (
    Allergy,
    CallAttempt,
    Campaign,
    CampaignAgent,
    Condition,
    FollowUpLog,
    FollowUpTask,
    Medication,
    Observation,
    Patient,
    Recording,
    TaskState,
    User,
)
from callcenter.models.health import out_of_range
from callcenter.services import audit, calls, indicators, patients
from callcenter.services.indicators import CATALOG

# A scheduled callback is a task an agent made for themself; this marks it in ``reason``.
CALLBACK_REASON = "callback"
QUEUE_STATES = (TaskState.PENDING, TaskState.SCHEDULED, TaskState.RETRY_SCHEDULED)
TREND_YEARS = 10
# Charts on the pop, in order; blood pressure draws systolic and diastolic together.
TREND_CHARTS = (
    ("bp", (indicators.SYSTOLIC, indicators.DIASTOLIC)),
    ("glucose", (indicators.FASTING_GLUCOSE,)),
    ("hba1c", (indicators.HBA1C,)),
    ("bmi", (indicators.BMI,)),
    ("cholesterol", (indicators.TOTAL_CHOLESTEROL,)),
)
TREND_CODES = tuple(code for _key, codes in TREND_CHARTS for code in codes)


@dataclass(frozen=True)
class QueueEntry:
    task: FollowUpTask
    patient_name: str
    campaign_name: str


@dataclass(frozen=True)
class Queue:
    tasks: list[QueueEntry]
    callbacks: list[QueueEntry]


@dataclass(frozen=True)
class LogEntry:
    log: FollowUpLog
    agent_name: str | None
    recording: Recording | None


@dataclass(frozen=True, slots=True)
class Reading:
    """One indicator value as the record shows it (the columns of an Observation it needs)."""

    code: str
    name: str
    value: float
    unit: str
    ref_low: float | None
    ref_high: float | None
    taken_at: datetime

    @property
    def out_of_range(self) -> bool:
        return out_of_range(self.value, self.ref_low, self.ref_high)


@dataclass
class PatientRecord:
    """A patient's record as the desk and the patient page show it."""

    patient: Patient
    age: int | None
    latest: list[Reading] = field(default_factory=list)
    trends: dict[str, list[dict]] = field(default_factory=dict)
    conditions: list[Condition] = field(default_factory=list)
    medications: list[Medication] = field(default_factory=list)
    allergies: list[Allergy] = field(default_factory=list)
    logs: list[LogEntry] = field(default_factory=list)


@dataclass
class ScreenPop:
    call: CallAttempt
    campaign: Campaign | None
    record: PatientRecord
    form: LogForm


def agent_queue(session: Session, agent: User, now: datetime, limit: int = 15) -> Queue:
    """Open tasks of the agent's campaigns (soonest first) and the callbacks they scheduled."""
    campaign_ids = select(CampaignAgent.campaign_id).where(CampaignAgent.user_id == agent.id)
    base = (
        select(FollowUpTask, Patient.name, Campaign.name)
        .join(Patient, Patient.id == FollowUpTask.patient_id)
        .join(Campaign, Campaign.id == FollowUpTask.campaign_id)
        .where(FollowUpTask.state.in_(QUEUE_STATES))
    )
    callbacks = session.execute(
        base.where(
            FollowUpTask.assigned_agent_id == agent.id, FollowUpTask.reason == CALLBACK_REASON
        )
        .order_by(FollowUpTask.due_at, FollowUpTask.id)
        .limit(limit)
    ).all()
    tasks = session.execute(
        base.where(
            FollowUpTask.campaign_id.in_(campaign_ids.scalar_subquery()),
            or_(
                FollowUpTask.assigned_agent_id.is_(None), FollowUpTask.assigned_agent_id == agent.id
            ),
            FollowUpTask.reason != CALLBACK_REASON,
        )
        .order_by(FollowUpTask.priority.desc(), FollowUpTask.due_at, FollowUpTask.id)
        .limit(limit)
    ).all()
    return Queue(
        tasks=[QueueEntry(t, p, c) for t, p, c in tasks],
        callbacks=[QueueEntry(t, p, c) for t, p, c in callbacks],
    )


def patient_record(
    session: Session, patient: Patient, now: datetime, *, log_limit: int = 10
) -> PatientRecord:
    """Everything the desk shows about ``patient``; the caller has checked access and audited."""
    record = PatientRecord(patient=patient, age=patients.age(patient))
    since = now - timedelta(days=365 * TREND_YEARS + 3)
    # Plain rows, not ORM objects: ten years of five indicators is hundreds of values a pop.
    observations = [
        Reading(*row)
        for row in session.execute(
            select(
                Observation.code,
                Observation.name,
                Observation.value,
                Observation.unit,
                Observation.ref_low,
                Observation.ref_high,
                Observation.taken_at,
            )
            .where(
                Observation.patient_id == patient.id,
                Observation.code.in_(TREND_CODES),
                Observation.taken_at >= since,
            )
            .order_by(Observation.taken_at)
        )
    ]
    latest: dict[str, Reading] = {}
    points: dict[str, list[dict]] = {code: [] for code in TREND_CODES}
    for o in observations:
        latest[o.code] = o
        points[o.code].append(
            {"t": int(o.taken_at.timestamp() * 1000), "v": o.value, "out": o.out_of_range}
        )
    record.latest = [latest[code] for code in TREND_CODES if code in latest]
    for key, codes in TREND_CHARTS:
        series = [
            {"code": code, "names": {"zh": CATALOG[code].name_zh, "en": CATALOG[code].name_en},
             "unit": CATALOG[code].unit,
             "low": CATALOG[code].ref_low, "high": CATALOG[code].ref_high, "points": points[code]}
            for code in codes
            if points[code]
        ]  # fmt: skip
        if series:
            record.trends[key] = series
    record.conditions = list(
        session.scalars(
            select(Condition).where(Condition.patient_id == patient.id).order_by(Condition.id)
        )
    )
    record.medications = list(
        session.scalars(
            select(Medication)
            .where(Medication.patient_id == patient.id, Medication.stopped_on.is_(None))
            .order_by(Medication.id)
        )
    )
    record.allergies = list(
        session.scalars(select(Allergy).where(Allergy.patient_id == patient.id))
    )
    record.logs = recent_logs(session, patient.id, log_limit)
    return record


def recent_logs(session: Session, patient_id: int, limit: int = 10) -> list[LogEntry]:
    """The patient's latest follow-up logs with who wrote them and the call's recording."""
    rows = session.execute(
        select(FollowUpLog, User.display_name)
        .outerjoin(User, User.id == FollowUpLog.agent_id)
        .where(FollowUpLog.patient_id == patient_id)
        .order_by(FollowUpLog.created_at.desc(), FollowUpLog.id.desc())
        .limit(limit)
    ).all()
    # A log saved during the call predates its recording: find the recording through the call.
    call_ids = [log.call_attempt_id for log, _ in rows if log.call_attempt_id]
    recordings: dict[str, Recording] = {}
    if call_ids:
        for recording in session.scalars(
            select(Recording).where(Recording.call_attempt_id.in_(call_ids)).order_by(Recording.id)
        ):
            recordings.setdefault(recording.call_attempt_id, recording)
    entries = []
    for log, agent_name in rows:
        recording = session.get(Recording, log.recording_id) if log.recording_id else None
        entries.append(
            LogEntry(log, agent_name, recording or recordings.get(log.call_attempt_id or ""))
        )
    return entries


@dataclass(frozen=True)
class LogForm:
    """What the follow-up form needs: the call, its campaign's script, a log saved already."""

    call: CallAttempt
    script: list[dict]
    existing_log: FollowUpLog | None


def log_form(session: Session, agent: User, call_id: str) -> LogForm:
    call = calls.get(session, agent, call_id)
    campaign = session.get(Campaign, call.campaign_id) if call.campaign_id else None
    existing = session.scalar(
        select(FollowUpLog).where(FollowUpLog.call_attempt_id == call.id).limit(1)
    )
    return LogForm(call, list(campaign.question_script or []) if campaign else [], existing)


def screen_pop(session: Session, agent: User, call_id: str, now: datetime) -> ScreenPop:
    """The pop for one of ``agent``'s calls. The caller renders it, then records the read with
    ``audit_screen_pop`` and commits: the ledger entry locks the ledger's head until the
    commit, so it comes last and twenty agents' pops at once do not queue behind each other's
    queries and rendering."""
    call = calls.get(session, agent, call_id)
    if call.patient_id is None:
        raise NotFound(f"call {call_id} has no patient", {"call_id": call_id})
    patient = patients.get_visible(session, agent, call.patient_id)
    campaign = session.get(Campaign, call.campaign_id) if call.campaign_id else None
    return ScreenPop(
        call=call,
        campaign=campaign,
        record=patient_record(session, patient, now),
        form=log_form(session, agent, call_id),
    )


def audit_screen_pop(session: Session, agent: User, pop: ScreenPop) -> None:
    audit.append(
        session,
        audit.Actor.of(agent),
        "patient.read",
        "patient",
        pop.record.patient.id,
        {"purpose": f"screen_pop:{pop.call.id}"},
    )
