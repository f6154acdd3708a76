"""Saving an agent's follow-up log: answers checked against the campaign's script,
measurements stored as indicator observations, an optional callback task."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.errors import Conflict, InvalidInput
from callcenter.models import (
    Campaign,
    Disposition,
    FollowUpLog,
    FollowUpTask,
    ObservationSource,
    Recording,
    TaskState,
    User,
)
from callcenter.services import audit, calls, health, indicators, patients
from callcenter.services.desk import CALLBACK_REASON

BLOOD_PRESSURE = re.compile(r"^\s*(\d{2,3})\s*/\s*(\d{2,3})\s*$")
YES_NO = ("yes", "no")
SYSTOLIC_RANGE = (50, 300)
DIASTOLIC_RANGE = (30, 200)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the form: which field, a stable code, and a message in English."""

    field: str
    code: str
    message: str


@dataclass(frozen=True)
class LogInput:
    call_id: str
    disposition: str
    answers: dict[str, str]
    notes: str = ""
    next_follow_up_on: date | None = None
    callback_at: datetime | None = None  # aware


def _check_answers(script: list[dict], raw: dict[str, str]) -> tuple[dict, list, list[Problem]]:
    """Typed answers, the measurements among them as (code, value), and what is wrong."""
    answers: dict = {}
    measurements: list[tuple[str, float]] = []
    problems: list[Problem] = []
    for question in script:
        key, kind = question["key"], question["type"]
        text = (raw.get(key) or "").strip()
        if not text:
            continue  # the patient may not answer every question
        where = f"answers.{key}"
        if kind == "yes_no":
            if text not in YES_NO:
                problems.append(Problem(where, "yes_no", f"{key}: answer yes or no"))
                continue
            answers[key] = text == "yes"
        elif kind == "choice":
            if text not in question.get("choices", []):
                problems.append(Problem(where, "choice", f"{key}: {text!r} is not a choice"))
                continue
            answers[key] = text
        elif kind == "number":
            try:
                value = float(text.replace(",", "."))
            except ValueError:
                problems.append(Problem(where, "number", f"{key}: {text!r} is not a number"))
                continue
            answers[key] = value
            if question.get("indicator_code"):
                measurements.append((question["indicator_code"], value))
        elif kind == "blood_pressure":
            match = BLOOD_PRESSURE.match(text)
            systolic, diastolic = (int(match[1]), int(match[2])) if match else (0, 0)
            plausible = (
                SYSTOLIC_RANGE[0] <= systolic <= SYSTOLIC_RANGE[1]
                and DIASTOLIC_RANGE[0] <= diastolic <= DIASTOLIC_RANGE[1]
                and systolic > diastolic
            )
            if not plausible:
                problems.append(
                    Problem(where, "blood_pressure", f"{key}: {text!r} is not like 135/85")
                )
                continue
            answers[key] = f"{systolic}/{diastolic}"
            measurements += [(indicators.SYSTOLIC, systolic), (indicators.DIASTOLIC, diastolic)]
        else:
            answers[key] = text[:2000]
    return answers, measurements, problems


def save(session: Session, agent: User, data: LogInput, now: datetime) -> FollowUpLog:
    """Write the log of one of ``agent``'s calls, linked to the call and its recording."""
    call = calls.get(session, agent, data.call_id)
    if call.patient_id is None:
        raise InvalidInput("the call has no patient", {"field": "call_id"})
    patient = patients.get_visible(session, agent, call.patient_id)
    if session.scalar(select(FollowUpLog.id).where(FollowUpLog.call_attempt_id == call.id)):
        raise Conflict(f"a follow-up log for call {call.id} is already saved", {"field": "call_id"})
    campaign = session.get(Campaign, call.campaign_id) if call.campaign_id else None
    problems: list[Problem] = []
    try:
        disposition = Disposition(data.disposition)
    except ValueError:
        disposition = None
        problems.append(Problem("disposition", "disposition", "choose how the call ended"))
    answers, measurements, answer_problems = _check_answers(
        campaign.question_script if campaign else [], data.answers
    )
    problems += answer_problems
    if data.next_follow_up_on is not None and data.next_follow_up_on < now.date():
        problems.append(Problem("next_follow_up_on", "past_date", "the date is in the past"))
    if data.callback_at is not None:
        if data.callback_at <= now:
            problems.append(Problem("callback_at", "past_time", "the callback time has passed"))
        if campaign is None:
            problems.append(Problem("callback_at", "no_campaign", "a callback needs a campaign"))
    if problems:
        raise InvalidInput(
            "; ".join(p.message for p in problems),
            {"problems": [p.__dict__ for p in problems]},
        )
    recording_id = session.scalar(
        select(Recording.id).where(Recording.call_attempt_id == call.id).order_by(Recording.id)
    )
    log = FollowUpLog(
        patient_id=patient.id,
        task_id=call.task_id,
        agent_id=agent.id,
        call_attempt_id=call.id,
        recording_id=recording_id,
        disposition=disposition,
        notes=data.notes.strip()[:10_000],
        answers=answers,
        next_follow_up_on=data.next_follow_up_on,
        summary=data.notes.strip().splitlines()[0][:200] if data.notes.strip() else "",
    )
    session.add(log)
    session.flush()
    actor = audit.Actor.of(agent)
    taken_at = call.answered_at or now
    for code, value in measurements:
        health.add_observation(
            session,
            actor,
            patient.id,
            {"code": code, "value": value, "taken_at": taken_at, "source": ObservationSource.CALL},
        )
    if data.callback_at is not None:
        session.add(
            FollowUpTask(
                campaign_id=campaign.id,
                patient_id=patient.id,
                assigned_agent_id=agent.id,
                state=TaskState.SCHEDULED,
                due_at=data.callback_at,
                reason=CALLBACK_REASON,
            )
        )
    audit.append(
        session,
        actor,
        "followup_log.create",
        "patient",
        patient.id,
        {"log_id": log.id, "call_id": call.id, "disposition": str(disposition)},
    )
    return log
