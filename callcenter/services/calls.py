"""Calls from the people's side: click-to-call, hang up, list and read call attempts."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.errors import Conflict, InvalidInput, NotFound, TelephonyUnavailable
from callcenter.models import (
    ACTIVE_CALL_STATUSES,
    CallAttempt,
    CallStatus,
    FollowUpTask,
    Role,
    TaskState,
    Trunk,
    User,
    utcnow,
)
from callcenter.services import audit, patients, presence
from callcenter.services.patients import Page
from callcenter.telephony import dialer, policy
from callcenter.telephony.actions import Hangup


def default_trunk(session: Session) -> Trunk:
    trunk = session.scalar(select(Trunk).where(Trunk.enabled.is_(True)).order_by(Trunk.id))
    if trunk is None:
        raise Conflict("no trunk is configured: add one under /api/v1/trunks")
    return trunk


def click_to_call(
    session: Session,
    bus,
    agent: User,
    patient_id: int,
    task_id: int | None,
    settings: dialer.DialSettings,
) -> CallAttempt:
    """Ring the agent's phone, then the patient; both legs are bridged when both answer."""
    if agent.role is not Role.AGENT or not agent.sip_extension:
        raise InvalidInput("click-to-call needs an agent with a SIP extension")
    patient = patients.get_visible(session, agent, patient_id)
    if not patient.phones:
        raise InvalidInput("the patient has no phone number")
    if patient.do_not_call:
        raise Conflict("the patient is on the do-not-call list")
    if not patient.consent_call:
        raise Conflict("the patient has not consented to calls")
    state = presence.state_of(session, agent.id)
    if state.state in presence.BUSY:
        raise Conflict(f"you are {state.state}: finish that call first")
    task = session.get(FollowUpTask, task_id) if task_id else None
    if task_id and (task is None or task.patient_id != patient.id):
        raise NotFound(f"task {task_id} is not a task of this patient")
    trunk = default_trunk(session)
    try:
        policy.dial_string(trunk, patient.phones[0].number, settings.region)
    except policy.UndialableNumber as exc:
        raise InvalidInput(str(exc)) from exc
    before = (state.state, state.reason, task.state if task else None)
    call, agent_leg = dialer.click_to_call(session, agent, patient, trunk, task, utcnow())
    audit.append(
        session,
        audit.Actor.of(agent),
        "call.click_to_call",
        "patient",
        patient.id,
        {"call_id": call.id},
    )
    session.commit()
    try:
        bus.send(agent_leg)
    except TelephonyUnavailable:
        _never_sent(session, call, state, task, before)
        raise
    return call


def _never_sent(session: Session, call: CallAttempt, state, task, before) -> None:
    """The command never left: end the call as not placed and put agent and task back."""
    presence_before, reason_before, task_state_before = before
    call.status = CallStatus.ENDED
    call.ended_at = utcnow()
    call.hangup_cause = "COMMAND_NOT_SENT"
    if state.call_id == call.id:
        presence.set_state(state, presence_before, reason_before)
    if task is not None and task_state_before is not None and task.state is TaskState.DIALING:
        task.state = task_state_before  # an undo, not a transition: nothing happened
    session.commit()


def hang_up(session: Session, bus, user: User, call_id: str) -> CallAttempt:
    call = get(session, user, call_id)
    if call.status not in ACTIVE_CALL_STATUSES:
        raise Conflict(f"call {call_id} has already ended")
    bus.send(Hangup(call.node, call.id))
    if call.agent_leg_id:
        bus.send(Hangup(call.node, call.agent_leg_id))
    return call


def _visible(user: User):
    query = select(CallAttempt)
    if user.role is Role.AGENT:
        query = query.where(CallAttempt.agent_id == user.id)
    return query


def get(session: Session, user: User, call_id: str) -> CallAttempt:
    call = session.scalar(_visible(user).where(CallAttempt.id == call_id))
    if call is None:
        raise NotFound(f"call {call_id} not found", {"call_id": call_id})
    return call


def list_calls(
    session: Session, user: User, *, campaign_id=None, status=None, page: int, per_page: int
) -> Page:
    query = _visible(user)
    if campaign_id is not None:
        query = query.where(CallAttempt.campaign_id == campaign_id)
    if status is not None:
        query = query.where(CallAttempt.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    items = session.scalars(
        query.order_by(CallAttempt.started_at.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(list(items), total, page, per_page)
