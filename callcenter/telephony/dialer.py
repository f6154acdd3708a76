"""The dialer: which due tasks to call now, within windows, consent, pacing and concurrency.

``Dialer.plan`` runs in the database and returns Originate actions; the daemon sends them. A task
is marked DIALING and its call attempt (whose id is the origination uuid) is committed before
the command leaves, so a daemon restarted at any moment never dials a task twice.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from callcenter.models import (
    ACTIVE_CALL_STATUSES,
    AgentState,
    CallAttempt,
    CallStatus,
    Campaign,
    CampaignAgent,
    CampaignKind,
    CampaignStatus,
    FollowUpTask,
    Patient,
    Presence,
    TaskState,
    Trunk,
    TrunkStatus,
    User,
    utcnow,
)
from callcenter.services import presence, tasks
from callcenter.telephony import policy
from callcenter.telephony.actions import Originate

log = logging.getLogger(__name__)
DUE_STATES = (TaskState.PENDING, TaskState.SCHEDULED, TaskState.RETRY_SCHEDULED)
# A pass is one transaction; keep it short so call events are not held up behind it.
MAX_CALLS_PER_PASS = 50


@dataclass(frozen=True)
class DialSettings:
    recordings_dir: str
    region: str
    ivr_socket: str = "127.0.0.1:8084"  # where FreeSWITCH hands IVR calls (&socket)

    @classmethod
    def from_config(cls, config) -> DialSettings:
        return cls(
            recordings_dir=config["RECORDINGS_DIR"],
            region=config["DEFAULT_REGION"],
            ivr_socket=config.get("IVR_SOCKET_ADDRESS", "127.0.0.1:8084"),
        )


def recording_path(settings: DialSettings, call: CallAttempt) -> str:
    """Where the switch records this call; the day's folder is made here, not by FreeSWITCH,
    which would create it readable by its own user only."""
    day = (call.started_at or utcnow()).strftime("%Y/%m/%d")
    folder = Path(settings.recordings_dir) / day
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / f"{call.id}.wav")


def patient_originate(session: Session, call: CallAttempt, settings: DialSettings) -> Originate:
    """The originate for the patient's leg of an existing call (click-to-call)."""
    trunk = session.get(Trunk, call.trunk_id)
    campaign = session.get(Campaign, call.campaign_id) if call.campaign_id else None
    dial = policy.dial_string(trunk, call.number, settings.region)
    return build_originate(call, trunk, campaign, dial, settings)


def build_originate(
    call: CallAttempt, trunk: Trunk, campaign: Campaign | None, dial: str, settings: DialSettings
) -> Originate:
    """The patient's leg: recorded in stereo from answer, parked or handed to the IVR."""
    app = "&park()"
    if campaign is not None and campaign.kind is CampaignKind.IVR:
        app = f"&socket({settings.ivr_socket} async full)"
    variables = {
        "origination_caller_id_number": trunk.caller_id_number or "0000",
        "origination_caller_id_name": trunk.caller_id_name or "Clinic",
        "ignore_early_media": "true",
        "RECORD_STEREO": "true",
        "execute_on_answer": f"record_session {recording_path(settings, call)}",
        "callcenter_call_id": call.id,
        "callcenter_leg": "patient",
    }
    if call.task_id:
        variables["callcenter_task_id"] = str(call.task_id)
    return Originate(call.node, call.id, dial, app, variables)


class Dialer:
    def __init__(
        self,
        session: Callable[[], Session],
        settings: DialSettings,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.session = session
        self.settings = settings
        self.clock = clock
        self.monotonic = monotonic
        self._buckets: dict[tuple[str, int], policy.TokenBucket] = {}

    def _bucket(self, kind: str, key: int, rate: float) -> policy.TokenBucket:
        bucket = self._buckets.get((kind, key))
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[(kind, key)] = policy.TokenBucket(rate, self.monotonic())
        return bucket

    def plan(self) -> list[Originate]:
        """One pass over running campaigns; commits and returns the calls to place now."""
        session = self.session()
        now = self.clock()
        presence.end_expired_wrap_ups(session, now)
        actions: list[Originate] = []
        campaigns = session.scalars(
            select(Campaign).where(Campaign.status == CampaignStatus.RUNNING).order_by(Campaign.id)
        ).all()
        for campaign in campaigns:
            actions += self._plan_campaign(session, campaign, now)
        session.commit()
        return actions

    def _active(self, session: Session, column, value) -> int:
        return session.scalar(
            select(func.count(CallAttempt.id)).where(
                column == value, CallAttempt.status.in_(ACTIVE_CALL_STATUSES)
            )
        )

    def _plan_campaign(self, session: Session, campaign: Campaign, now: datetime) -> list:
        trunk = session.get(Trunk, campaign.trunk_id) if campaign.trunk_id else None
        if trunk is None or not trunk.enabled or trunk.status is TrunkStatus.DOWN:
            why = "no trunk" if trunk is None else f"trunk {trunk.name} is down"
            if trunk is not None and trunk.status_reason:
                why += f": {trunk.status_reason}"
            campaign.status = CampaignStatus.PAUSED
            campaign.status_reason = why
            log.warning("campaign %s paused: %s", campaign.id, why)
            return []
        room = min(
            MAX_CALLS_PER_PASS,
            campaign.max_concurrent - self._active(session, CallAttempt.campaign_id, campaign.id),
            trunk.max_concurrent - self._active(session, CallAttempt.trunk_id, trunk.id),
        )
        agents: list[AgentState] = []
        if campaign.kind is CampaignKind.AGENT:
            agents = self._ready_agents(session, campaign)
            room = min(room, len(agents))
        buckets = (
            self._bucket("campaign", campaign.id, campaign.calls_per_second),
            self._bucket("trunk", trunk.id, trunk.calls_per_second),
        )
        # Pacing first: look only at as many tasks as may be dialled now.
        room = min(room, *(b.available(self.monotonic()) for b in buckets))
        if room <= 0:
            return []
        due = self._due_tasks(session, campaign, now, limit=room * 2 + 5)
        if not due and not self._has_open_tasks(session, campaign):
            campaign.status = CampaignStatus.COMPLETED
            campaign.status_reason = "every task is done"
            return []
        chosen: list[tuple[FollowUpTask, Patient, str]] = []
        for task, patient in due:
            dial = self._ready_to_dial(task, patient, campaign, trunk, now)
            if dial is not None:
                chosen.append((task, patient, dial))
                if len(chosen) == room:
                    break
        for bucket in buckets:
            bucket.take(self.monotonic(), len(chosen))
        return self._dial(session, chosen, campaign, trunk, agents, now)

    def _ready_agents(self, session: Session, campaign: Campaign) -> list[AgentState]:
        return list(
            session.scalars(
                select(AgentState)
                .join(CampaignAgent, CampaignAgent.user_id == AgentState.user_id)
                .where(CampaignAgent.campaign_id == campaign.id, AgentState.state == Presence.READY)
                .order_by(AgentState.since)  # longest waiting first
            )
        )

    def _due_tasks(self, session: Session, campaign: Campaign, now: datetime, limit: int):
        """Due tasks with their patients and phones, in one round trip (plus the phones)."""
        query = (
            select(FollowUpTask, Patient)
            .join(Patient, Patient.id == FollowUpTask.patient_id)
            .options(selectinload(Patient.phones))
            .where(
                FollowUpTask.campaign_id == campaign.id,
                FollowUpTask.state.in_(DUE_STATES),
                or_(FollowUpTask.due_at.is_(None), FollowUpTask.due_at <= now),
            )
            .order_by(FollowUpTask.priority.desc(), FollowUpTask.due_at, FollowUpTask.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=FollowUpTask)
        return [(task, patient) for task, patient in session.execute(query)]

    def _has_open_tasks(self, session: Session, campaign: Campaign) -> bool:
        open_states = (*DUE_STATES, TaskState.DIALING, TaskState.IN_CALL)
        return (
            session.scalar(
                select(FollowUpTask.id)
                .where(FollowUpTask.campaign_id == campaign.id, FollowUpTask.state.in_(open_states))
                .limit(1)
            )
            is not None
        )

    def _ready_to_dial(
        self, task: FollowUpTask, patient: Patient, campaign: Campaign, trunk: Trunk, now: datetime
    ) -> str | None:
        """The dial string if the patient may be dialled now; else park or end the task."""
        if task.attempts >= campaign.max_attempts:
            tasks.transition(task, TaskState.FAILED, reason="maximum attempts reached")
            return None
        reason = policy.why_not_callable(patient, campaign, now)
        if reason is None:
            try:
                return policy.dial_string(trunk, patient.phones[0].number, self.settings.region)
            except policy.UndialableNumber as exc:
                tasks.transition(task, TaskState.FAILED, reason=str(exc))
                return None
        if reason.startswith("outside the calling window"):
            task.due_at = policy.next_window_start(campaign.calling_windows, patient.timezone, now)
            if task.state is TaskState.PENDING:
                tasks.transition(task, TaskState.SCHEDULED)
            return None
        # No consent, do-not-call, no number: this campaign must not call them at all.
        tasks.transition(task, TaskState.CANCELLED, reason=reason)
        task.failure_reason = reason
        return None

    def _dial(
        self,
        session: Session,
        chosen,
        campaign: Campaign,
        trunk: Trunk,
        agents: list[AgentState],
        now: datetime,
    ) -> list[Originate]:
        """Commit-ready call attempts for the chosen tasks, flushed together."""
        calls = []
        for index, (task, patient, _dial) in enumerate(chosen):
            agent = agents[index] if agents else None
            call = CallAttempt(
                id=str(uuid.uuid4()),
                task_id=task.id,
                campaign_id=campaign.id,
                patient_id=patient.id,
                agent_id=agent.user_id if agent else task.assigned_agent_id,
                number=patient.phones[0].number,
                trunk_id=trunk.id,
                node=trunk.node,
                status=CallStatus.DIALING,
                started_at=now,
            )
            tasks.transition(task, TaskState.DIALING)
            if agent is not None:
                presence.set_state(agent, Presence.RESERVED, call_id=call.id)
            calls.append(call)
        session.add_all(calls)
        session.flush()
        return [
            build_originate(call, trunk, campaign, dial, self.settings)
            for call, (_task, _patient, dial) in zip(calls, chosen, strict=True)
        ]


def click_to_call(
    session: Session,
    agent: User,
    patient: Patient,
    trunk: Trunk,
    task: FollowUpTask | None,
    now: datetime,
) -> tuple[CallAttempt, Originate]:
    """Preview dialling: ring the agent first; the patient is dialled when the agent answers."""
    state = presence.state_of(session, agent.id)
    call = CallAttempt(
        task_id=task.id if task else None,
        campaign_id=task.campaign_id if task else None,
        patient_id=patient.id,
        agent_id=agent.id,
        number=patient.phones[0].number,
        trunk_id=trunk.id,
        node=trunk.node,
        status=CallStatus.QUEUED,
        started_at=now,
    )
    call.agent_leg_id = str(uuid.uuid4())
    session.add(call)
    session.flush()
    if task is not None and task.state in DUE_STATES:
        tasks.transition(task, TaskState.DIALING)
    presence.set_state(state, Presence.RESERVED, call_id=call.id)
    agent_leg = Originate(
        trunk.node,
        call.agent_leg_id,
        f"user/{agent.sip_extension}",
        variables={
            "origination_caller_id_number": patient.phones[0].number,
            "callcenter_call_id": call.id,
            "callcenter_leg": "agent",
        },
    )
    return call, agent_leg
