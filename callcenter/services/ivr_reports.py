"""What automated calls achieved: a campaign's outcome counts and answers, a patient's history."""

from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.models import Campaign, FollowUpTask, Patient, Recording, TaskState, User
from callcenter.models.ivr import IvrCall, IvrOutcome, IvrQuestionnaireResponse
from callcenter.services import patients
from callcenter.services.ivr_admin import ivr_campaign

# Outcomes of a call on which the patient took part in the flow (answered and heard us).
NOT_REACHED = {IvrOutcome.FAILED}


def campaign_report(session: Session, campaign_id: int) -> dict:
    """Outcome counts over every IVR call of the campaign, early hang-ups by step, answers."""
    campaign = ivr_campaign(session, campaign_id)
    by_outcome = Counter(
        dict(
            session.execute(
                select(IvrCall.outcome, func.count())
                .where(IvrCall.campaign_id == campaign_id)
                .group_by(IvrCall.outcome)
            ).all()
        )
    )
    early_steps = dict(
        session.execute(
            select(IvrCall.step, func.count())
            .where(IvrCall.campaign_id == campaign_id, IvrCall.outcome == IvrOutcome.HUNG_UP_EARLY)
            .group_by(IvrCall.step)
        ).all()
    )
    patients_reached = session.scalar(
        select(func.count(func.distinct(IvrCall.patient_id))).where(
            IvrCall.campaign_id == campaign_id, IvrCall.outcome.not_in(NOT_REACHED)
        )
    )
    task_states = dict(
        session.execute(
            select(FollowUpTask.state, func.count())
            .where(FollowUpTask.campaign_id == campaign_id)
            .group_by(FollowUpTask.state)
        ).all()
    )
    calls = sum(by_outcome.values())
    return {
        "campaign_id": campaign.id,
        "campaign_name": campaign.name,
        "calls": calls,
        "reached": calls - sum(by_outcome[o] for o in NOT_REACHED),
        "patients_reached": patients_reached or 0,
        "outcomes": {str(outcome): by_outcome.get(outcome, 0) for outcome in IvrOutcome},
        "hung_up_early_by_step": early_steps,
        "tasks": {str(state): task_states.get(state, 0) for state in TaskState},
        "answers": answers_summary(session, campaign),
    }


def answers_summary(session: Session, campaign: Campaign) -> dict:
    """Per question key: how often each answer was given, and how many responses were complete."""
    counts: dict[str, Counter] = defaultdict(Counter)
    responses = complete = 0
    rows = session.execute(
        select(IvrQuestionnaireResponse.answers, IvrQuestionnaireResponse.complete).where(
            IvrQuestionnaireResponse.campaign_id == campaign.id
        )
    )
    for answers, done in rows:
        responses += 1
        complete += bool(done)
        for key, value in (answers or {}).items():
            counts[key][str(value)] += 1
    return {
        "responses": responses,
        "complete": complete,
        "questions": {key: dict(counter.most_common()) for key, counter in counts.items()},
    }


def patient_history(session: Session, user: User, patient_id: int, limit: int = 50) -> list[dict]:
    """The patient's automated calls, newest first; the read is written to the audit ledger."""
    patients.read(session, user, patient_id, purpose="ivr history")
    return history_rows(session, patient_id, limit)


def history_rows(session: Session, patient_id: int, limit: int = 50) -> list[dict]:
    """The patient's automated calls for a caller that has already checked and logged access."""
    rows = session.execute(
        select(IvrCall, Campaign.name)
        .outerjoin(Campaign, Campaign.id == IvrCall.campaign_id)
        .where(IvrCall.patient_id == patient_id)
        .order_by(IvrCall.started_at.desc(), IvrCall.id.desc())
        .limit(limit)
    ).all()
    call_ids = [row.call_attempt_id for row, _ in rows]
    recordings = dict(
        session.execute(
            select(Recording.call_attempt_id, func.max(Recording.id))
            .where(Recording.call_attempt_id.in_(call_ids))
            .group_by(Recording.call_attempt_id)
        ).all()
    ) if call_ids else {}  # fmt: skip
    answers = dict(
        session.execute(
            select(IvrQuestionnaireResponse.ivr_call_id, IvrQuestionnaireResponse.answers).where(
                IvrQuestionnaireResponse.ivr_call_id.in_([row.id for row, _ in rows])
            )
        ).all()
    ) if rows else {}  # fmt: skip
    return [
        {
            "id": row.id,
            "call_id": row.call_attempt_id,
            "campaign_id": row.campaign_id,
            "campaign_name": name,
            "task_id": row.task_id,
            "flow": str(row.flow),
            "language": row.language,
            "outcome": str(row.outcome),
            "step": row.step,
            "keypad_trail": list(row.keypad_trail or []),
            "keys_pressed": " ".join(t.get("digits") or "·" for t in row.keypad_trail or []),
            "answers": answers.get(row.id),
            "detail": row.detail,
            "callback_task_id": row.callback_task_id,
            "recording_id": recordings.get(row.call_attempt_id),
            "started_at": row.started_at,
            "ended_at": row.ended_at,
        }
        for row, name in rows
    ]


def recent_calls(session: Session, campaign_id: int, limit: int = 100) -> list[dict]:
    """The campaign's latest automated calls with whom they reached, for the report page."""
    rows = session.execute(
        select(IvrCall, Patient.name)
        .outerjoin(Patient, Patient.id == IvrCall.patient_id)
        .where(IvrCall.campaign_id == campaign_id)
        .order_by(IvrCall.started_at.desc(), IvrCall.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "patient_id": row.patient_id,
            "patient_name": name,
            "outcome": str(row.outcome),
            "step": row.step,
            "keys_pressed": " ".join(t.get("digits") or "·" for t in row.keypad_trail or []),
            "started_at": row.started_at,
        }
        for row, name in rows
    ]
