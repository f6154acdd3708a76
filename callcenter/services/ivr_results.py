"""What an automated call leaves behind: its outcome, answers, observations and follow-up work.

Called by the IVR runner on the telephony daemon's IVR database thread. The IVR settles the
task of every call it finishes before it hangs up, so the controller (which sees the hangup)
leaves such tasks alone; a patient who hangs up mid-flow is retried per the campaign's policy.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from callcenter.models import (
    AgentState,
    CallAttempt,
    Campaign,
    CampaignAgent,
    CampaignKind,
    CampaignStatus,
    FollowUpTask,
    ObservationSource,
    Patient,
    Presence,
    TaskState,
    utcnow,
)
from callcenter.models.ivr import (
    IvrCall,
    IvrCampaignSettings,
    IvrFlow,
    IvrOutcome,
    IvrQuestionnaireResponse,
)
from callcenter.services import audit, health, tasks
from callcenter.telephony.actions import Originate

log = logging.getLogger(__name__)
ACTOR = audit.Actor(None, "ivr")
URGENT_PRIORITY = 100
CALLBACK_PRIORITY = 10
# How the IVR ended, in the words of the retry policy (policy.OUTCOME_BY_CAUSE).
NO_INPUT_CAUSE = "IVR_NO_INPUT"
HUNG_UP_CAUSE = "IVR_HUNG_UP_EARLY"
SETTLED = {
    IvrOutcome.CONFIRMED,
    IvrOutcome.CHANGE_REQUESTED,
    IvrOutcome.TRANSFERRED,
    IvrOutcome.CALLBACK_SCHEDULED,
    IvrOutcome.ANSWERED,
    IvrOutcome.OPTED_OUT,
}
RETRY_CAUSES = {
    IvrOutcome.NO_INPUT: NO_INPUT_CAUSE,
    IvrOutcome.WRONG_INPUT: NO_INPUT_CAUSE,
    IvrOutcome.HUNG_UP_EARLY: HUNG_UP_CAUSE,
    IvrOutcome.REACHED: HUNG_UP_CAUSE,
    IvrOutcome.FAILED: "IVR_FAILED",
}


@dataclass
class IvrReport:
    """One call's result as the flow saw it."""

    call_id: str
    flow: IvrFlow
    language: str
    outcome: IvrOutcome
    step: str
    trail: list[dict] = field(default_factory=list)
    detail: str = ""
    answers: dict = field(default_factory=dict)
    measurements: list[tuple[str, float]] = field(default_factory=list)  # (LOINC code, value)
    urgent: list[str] = field(default_factory=list)
    callback_reason: str | None = None
    questionnaire: bool = False
    complete: bool = False
    started_at: datetime | None = None


def record(session: Session, report: IvrReport, now: datetime | None = None) -> IvrCall:
    """Write the outcome and everything it implies, once per call (a second call is ignored)."""
    now = now or utcnow()
    existing = session.scalar(select(IvrCall).where(IvrCall.call_attempt_id == report.call_id))
    if existing is not None:
        return existing
    call = session.get(CallAttempt, report.call_id)
    if call is None:
        raise LookupError(f"call attempt {report.call_id} does not exist")
    row = IvrCall(
        call_attempt_id=call.id,
        task_id=call.task_id,
        campaign_id=call.campaign_id,
        patient_id=call.patient_id,
        flow=report.flow,
        language=report.language,
        outcome=report.outcome,
        step=report.step,
        keypad_trail=report.trail,
        detail=report.detail,
        started_at=report.started_at or now,
        ended_at=now,
    )
    session.add(row)
    session.flush()
    if report.questionnaire and call.patient_id:
        session.add(
            IvrQuestionnaireResponse(
                ivr_call_id=row.id,
                patient_id=call.patient_id,
                campaign_id=call.campaign_id,
                answers=report.answers,
                complete=report.complete,
            )
        )
    for code, value in report.measurements:
        health.add_observation(
            session,
            ACTOR,
            call.patient_id,
            {"code": code, "value": value, "taken_at": now, "source": ObservationSource.IVR},
        )
    campaign = session.get(Campaign, call.campaign_id) if call.campaign_id else None
    if report.callback_reason and campaign is not None:
        task = add_agent_task(session, campaign, call.patient_id, report.callback_reason, now)
        row.callback_task_id = task.id
    for reason in report.urgent:
        if campaign is not None:
            add_agent_task(session, campaign, call.patient_id, f"URGENT: {reason}", now, True)
    settle_task(session, call, report.outcome, campaign, now)
    return row


def settle_task(
    session: Session, call: CallAttempt, outcome: IvrOutcome, campaign, now: datetime
) -> None:
    task = session.get(FollowUpTask, call.task_id) if call.task_id else None
    if task is None or task.state is not TaskState.IN_CALL or campaign is None:
        return  # already settled, e.g. by the controller when the patient hung up first
    if outcome in SETTLED:
        tasks.transition(task, TaskState.COMPLETED)
        return
    cause = RETRY_CAUSES.get(outcome, HUNG_UP_CAUSE)
    task.last_hangup_cause = cause
    tasks.retry_or_fail(task, campaign, cause, now)


def add_agent_task(
    session: Session,
    campaign: Campaign,
    patient_id: int,
    reason: str,
    now: datetime,
    urgent: bool = False,
) -> FollowUpTask:
    """A task for an agent in the campaign that receives this IVR campaign's callbacks."""
    target = callback_campaign(session, campaign)
    task = FollowUpTask(
        campaign_id=target.id,
        patient_id=patient_id,
        state=TaskState.PENDING,
        priority=URGENT_PRIORITY if urgent else CALLBACK_PRIORITY,
        reason=reason,
        due_at=now,
    )
    session.add(task)
    session.flush()
    log.info("IVR created %s task %s: %s", "an urgent" if urgent else "a", task.id, reason)
    return task


def callback_campaign(session: Session, campaign: Campaign) -> Campaign:
    """The agent campaign for callbacks: the configured one, else one made like the IVR's."""
    settings = session.get(IvrCampaignSettings, campaign.id)
    if settings is not None and settings.callback_campaign_id:
        found = session.get(Campaign, settings.callback_campaign_id)
        if found is not None:
            return found
    name = f"{campaign.name} · callbacks"[:200]
    found = session.scalar(select(Campaign).where(Campaign.name == name))
    if found is None:
        found = Campaign(
            name=name,
            kind=CampaignKind.AGENT,
            status=CampaignStatus.RUNNING,
            description=f"Patients the IVR campaign {campaign.name!r} asked agents to call",
            calling_windows=campaign.calling_windows,
            retry_delays=campaign.retry_delays,
            trunk_id=campaign.trunk_id,
            question_script=campaign.question_script,
        )
        found.agents = [CampaignAgent(user_id=a.user_id) for a in campaign.agents]
        session.add(found)
        session.flush()
    if settings is None:
        settings = IvrCampaignSettings(campaign_id=campaign.id)
        session.add(settings)
    settings.callback_campaign_id = found.id
    return found


def opt_out(session: Session, patient_id: int, call_id: str, now: datetime | None = None) -> None:
    """The patient pressed 9: never call them again, from this moment."""
    patient = session.get(Patient, patient_id)
    if patient is None or patient.do_not_call:
        return
    now = now or utcnow()
    patient.do_not_call = True
    patient.do_not_call_reason = (
        f"pressed 9 during automated call {call_id} at {now:%Y-%m-%d %H:%M} UTC"
    )
    audit.append(session, ACTOR, "patient.do_not_call", "patient", patient_id, {"call_id": call_id})


def reserve_agent(
    session: Session, call_id: str, make_originate: Callable[[CallAttempt], Originate]
) -> Originate | None:
    """Reserve the longest-waiting ready agent (of the campaign, if it names agents) for this
    call and return the originate of the agent's leg; None when nobody is ready."""
    call = session.get(CallAttempt, call_id)
    if call is None:
        return None
    query = select(AgentState.user_id).where(AgentState.state == Presence.READY)
    assigned = session.scalars(
        select(CampaignAgent.user_id).where(CampaignAgent.campaign_id == call.campaign_id)
    ).all()
    if assigned:
        query = query.where(AgentState.user_id.in_(assigned))
    for user_id in session.scalars(query.order_by(AgentState.since)).all():
        # Conditional update: the dialer or another IVR call may take the same agent.
        taken = session.execute(
            update(AgentState)
            .where(AgentState.user_id == user_id, AgentState.state == Presence.READY)
            .values(state=Presence.RESERVED, call_id=call.id, since=utcnow(), reason="")
        ).rowcount
        if taken:
            call.agent_id = user_id
            call.agent_leg_id = str(uuid.uuid4())
            return make_originate(call)
    return None


def agent_leg_is(session: Session, call_id: str, leg_id: str) -> bool:
    """Whether ``leg_id`` is still the call's agent leg (the controller clears it on failure)."""
    return (
        session.scalar(select(CallAttempt.agent_leg_id).where(CallAttempt.id == call_id)) == leg_id
    )
