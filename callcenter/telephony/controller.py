"""Switch events -> domain: call attempts, tasks, agents, recordings; and what to do next.

Every handler is idempotent: FreeSWITCH may report the end of a call twice (BACKGROUND_JOB
-ERR and CHANNEL_HANGUP_COMPLETE), and after a reconnect the daemon may replay what it learnt.
Handlers run in one thread, in event order, and return the switch actions that follow.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callcenter.jobs import RECORDING_JOB, recording_job_timeout
from callcenter.models import (
    ACTIVE_CALL_STATUSES,
    AgentState,
    CallAttempt,
    CallStatus,
    Campaign,
    CampaignKind,
    FollowUpTask,
    Presence,
    Recording,
    TaskState,
    User,
    utcnow,
)
from callcenter.services import presence, tasks
from callcenter.telephony.actions import Action, Bridge, Hangup, Originate
from callcenter.telephony.dialer import DialSettings, patient_originate
from callcenter.telephony.notifier import CallNotifier
from callcenter.telephony.wire import Event

log = logging.getLogger(__name__)


@dataclass
class Leg:
    call: CallAttempt
    is_agent_leg: bool


class CallController:
    def __init__(
        self,
        session: Callable[[], Session],
        notifier: CallNotifier,
        settings: DialSettings,
        jobs=None,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.session = session
        self.notifier = notifier
        self.settings = settings
        self.jobs = jobs
        self.clock = clock
        self._begin()

    # --- dispatch ------------------------------------------------------------------------

    def handles(self, event: Event) -> bool:
        """Whether the event concerns us at all, decided before any database work.

        Our legs carry ``callcenter_leg``; a patient leg's uuid is its call id. Other channels
        (loopback B-legs, calls the clinic placed by hand) are not ours.
        """
        if not hasattr(self, f"on_{event.name.lower()}"):
            return False
        if event.name == "BACKGROUND_JOB":
            return True
        leg = event.variable("callcenter_leg")
        if leg == "patient":
            return event.uuid == event.variable("callcenter_call_id")
        return leg == "agent"

    def handle(self, node: str, event: Event) -> list[Action]:
        handler = getattr(self, f"on_{event.name.lower()}", None)
        if handler is None:
            return []
        return self._transaction(lambda: handler(node, event), f"{event.name} {event.uuid}")

    def handle_batch(self, batch: list[tuple[str, Event]]) -> list[Action]:
        """Apply events in order in one transaction (one commit instead of one per event).

        The batch's calls, tasks and campaigns are loaded in three queries up front, so the
        handlers work from the session's identity map; their changes are flushed together at
        commit (autoflush still runs before any query a handler makes, so later events see
        earlier ones). If any event fails, the batch is rolled back and replayed one event per
        transaction, so one bad event costs only itself.
        """
        if len(batch) == 1:
            return self.handle(*batch[0])
        session = self.session()
        self._begin()
        actions: list[Action] = []
        try:
            self._preload(event for _node, event in batch)
            for node, event in batch:
                handler = getattr(self, f"on_{event.name.lower()}")
                actions += handler(node, event) or []
            session.commit()
        except Exception:
            session.rollback()
            log.warning("a batch of %s events failed; applying them one by one", len(batch))
            replayed: list[Action] = []
            for node, event in batch:
                replayed += self.handle(node, event)
            return replayed
        self._committed()
        return actions

    def leg_failed(self, uuid: str, cause: str) -> list[Action]:
        """The switch never took the originate for this leg (link down, -ERR reply)."""

        def fail():
            leg = self._leg(uuid)
            if leg is None:
                return []
            if leg.is_agent_leg:
                return self._agent_leg_failed(leg.call, cause)
            return self.finish(leg.call, cause)

        return self._transaction(fail, f"originate {uuid}")

    def _transaction(self, work: Callable[[], list[Action] | None], what: str) -> list[Action]:
        session = self.session()
        self._begin()
        try:
            actions = work() or []
            session.commit()
        except Exception:
            session.rollback()
            log.exception("handling %s failed", what)
            return []
        self._committed()
        return actions

    def _begin(self) -> None:
        self._after_commit = []
        self._notices: list[tuple[str, dict]] = []
        self._legs: dict[str, Leg] | None = None  # None: not preloaded, ask the database
        self._kept: list = []

    def _committed(self) -> None:
        """What waits for the commit: jobs for rows that now exist, then the notices."""
        for step in self._after_commit:
            step()
        if self._notices:
            self.notifier.publish_many(self._notices)

    def _preload(self, events) -> None:
        """Load the calls these events name, with their tasks, campaigns and agents' states, in
        four queries."""
        uuids = set()
        for event in events:
            uuids.update((event.uuid, event.get("Job-UUID"), event.get("Other-Leg-Unique-ID")))
        uuids.discard(None)
        session = self.session()
        calls = session.scalars(
            select(CallAttempt).where(
                or_(CallAttempt.id.in_(uuids), CallAttempt.agent_leg_id.in_(uuids))
            )
        ).all()
        self._legs = {}
        for call in calls:
            self._legs[call.id] = Leg(call, False)
            if call.agent_leg_id:
                self._legs[call.agent_leg_id] = Leg(call, True)
        for column, ids in (
            (FollowUpTask.id, {c.task_id for c in calls if c.task_id}),
            (Campaign.id, {c.campaign_id for c in calls if c.campaign_id}),
            (AgentState.user_id, {c.agent_id for c in calls if c.agent_id}),
        ):
            if ids:  # into the identity map, where session.get() finds them without SQL; the
                # identity map holds objects weakly, so the batch keeps them alive
                model = column.class_
                self._kept += session.scalars(select(model).where(column.in_(ids))).all()

    def _leg(self, uuid: str | None) -> Leg | None:
        if not uuid:
            return None
        if self._legs is not None:  # preloaded: a call created later cannot have events yet
            return self._legs.get(uuid)
        session = self.session()
        call = session.get(CallAttempt, uuid)
        if call is not None:
            return Leg(call, False)
        call = session.scalar(select(CallAttempt).where(CallAttempt.agent_leg_id == uuid))
        return Leg(call, True) if call is not None else None

    def end_lost_calls(self, node: str, live: set[str]) -> list[Action]:
        """After a reconnect: calls we think are up but the switch no longer has have ended."""

        def end():
            actions: list[Action] = []
            calls = self.session().scalars(
                select(CallAttempt).where(
                    CallAttempt.node == node, CallAttempt.status.in_(ACTIVE_CALL_STATUSES)
                )
            )
            for call in calls.all():
                if call.id not in live and call.agent_leg_id not in live:
                    log.info("call %s ended while the link was down", call.id)
                    actions += self.finish(call, "LOST_WHILE_DISCONNECTED")
            return actions

        return self._transaction(end, f"reconciling {node}")

    # --- events --------------------------------------------------------------------------

    def on_channel_answer(self, node: str, event: Event) -> list[Action]:
        leg = self._leg(event.uuid)
        if leg is None or leg.call.status is CallStatus.ENDED:
            return []
        call, now = leg.call, self.clock()
        if leg.is_agent_leg:
            call.agent_answered_at = call.agent_answered_at or now
            if call.status is CallStatus.QUEUED:  # click-to-call: the agent is on, dial out
                call.status = CallStatus.DIALING
                return [patient_originate(self.session(), call, self.settings)]
            return []
        if call.answered_at is None:
            call.answered_at = now
            call.status = CallStatus.ANSWERED
            task = self._task(call)
            if task is not None and task.state is TaskState.DIALING:
                tasks.transition(task, TaskState.IN_CALL)
            self._notify("call.answered", call)
        return []

    def on_background_job(self, node: str, event: Event) -> list[Action]:
        """A leg's originate finished. FreeSWITCH refuses uuid_bridge before this (the
        channel may already be answered), so bridging is decided here, never on answer."""
        leg = self._leg(event.get("Job-UUID"))
        if leg is None:
            return []
        body = event.body.strip()
        call = leg.call
        if body.startswith("-ERR"):
            cause = body.removeprefix("-ERR").strip() or "UNKNOWN"
            if leg.is_agent_leg:
                return self._agent_leg_failed(call, cause)
            return self.finish(call, cause)
        if call.status is CallStatus.ENDED:
            return []
        now = self.clock()
        if leg.is_agent_leg:
            call.agent_up_at = call.agent_up_at or now
        else:
            call.patient_up_at = call.patient_up_at or now
        if call.patient_up_at and call.agent_up_at:
            return [Bridge(call.node, call.id, call.agent_leg_id)]
        if not leg.is_agent_leg and call.agent_id and call.agent_leg_id is None:
            return [self._agent_originate(call)]  # progressive: now ring the reserved agent
        return []

    def on_channel_bridge(self, node: str, event: Event) -> list[Action]:
        leg = self._leg(event.uuid) or self._leg(event.get("Other-Leg-Unique-ID"))
        if leg is None or leg.call.status is CallStatus.ENDED:
            return []
        call = leg.call
        if call.status is not CallStatus.BRIDGED:
            call.status = CallStatus.BRIDGED
            call.bridged_at = self.clock()
            if call.agent_id:
                state = presence.state_of(self.session(), call.agent_id)
                presence.set_state(state, Presence.IN_CALL, call_id=call.id)
            # The screen pop: the agent's browser opens this patient's record. The switch's own
            # event time (microseconds) lets anyone measure the latency of this path.
            self._notify(
                "call.bridged",
                call,
                screen_pop=True,
                switch_at_us=_int(event.get("Event-Date-Timestamp")),
            )
        return []

    def on_channel_hangup_complete(self, node: str, event: Event) -> list[Action]:
        leg = self._leg(event.uuid)
        if leg is None:
            return []
        cause = event.get("Hangup-Cause") or "NORMAL_CLEARING"
        billsec = _int(event.variable("billsec"))
        if leg.is_agent_leg:
            call = leg.call
            live = call.status is not CallStatus.ENDED and call.answered_at is not None
            if live and not self._ivr_holds(call):
                return [Hangup(call.node, call.id)]  # the agent hung up: end the call
            return self._agent_leg_failed(call, cause)
        return self.finish(leg.call, cause, billsec)

    def on_record_stop(self, node: str, event: Event) -> list[Action]:
        leg = self._leg(event.uuid)
        path = event.get("Record-File-Path")
        if leg is None or not path:
            return []
        session = self.session()
        exists = session.scalar(
            select(Recording.id).where(
                Recording.call_attempt_id == leg.call.id, Recording.source_path == path
            )
        )
        if exists is None:
            recording = Recording(call_attempt_id=leg.call.id, source_path=path)
            session.add(recording)
            session.flush()
            leg.call.recording_path = path
            if self.jobs is not None:
                recording_id = recording.id
                seconds = _int(event.variable("record_ms"))
                timeout = recording_job_timeout(seconds / 1000 if seconds else None)
                self._after_commit.append(
                    lambda: self.jobs.enqueue(
                        RECORDING_JOB,
                        recording_id,
                        queue="recordings",
                        job_id=f"recording-{recording_id}",
                        timeout=timeout,
                    )
                )
            self._notify("call.recorded", leg.call, recording_id=recording.id)
        return []

    def on_dtmf(self, node: str, event: Event) -> list[Action]:
        leg = self._leg(event.uuid)
        if leg is not None:
            self._notify("call.dtmf", leg.call, digit=event.get("DTMF-Digit"))
        return []

    # --- endings -------------------------------------------------------------------------

    def finish(self, call: CallAttempt, cause: str, billsec: int | None = None) -> list[Action]:
        """End a call once; decide the task's next state and free the agent."""
        if call.status is CallStatus.ENDED:
            return []
        now = self.clock()
        was_bridged = call.bridged_at is not None
        call.status = CallStatus.ENDED
        call.ended_at = now
        call.hangup_cause = cause
        call.billsec = billsec if billsec is not None else 0
        actions: list[Action] = []
        if call.agent_leg_id and call.agent_answered_at is not None and not was_bridged:
            actions.append(Hangup(call.node, call.agent_leg_id))
        self._finish_task(call, cause, now)
        self._free_agent(call, was_bridged, now)
        self._notify("call.ended", call, cause=cause, billsec=call.billsec)
        return actions

    def _finish_task(self, call: CallAttempt, cause: str, now: datetime) -> None:
        task = self._task(call)
        if task is None or task.state in tasks.FINAL_STATES:
            return
        task.last_hangup_cause = cause
        reached = call.bridged_at is not None if call.agent_id else call.answered_at is not None
        if reached and call.bridged_at is None and task.state is TaskState.IN_CALL:
            campaign = self.session().get(Campaign, task.campaign_id)
            if campaign is not None and campaign.kind is CampaignKind.IVR:
                # The IVR settles the tasks it finishes before it hangs up: one still in call
                # was left mid-flow; retried per the campaign's policy (issue 6).
                reached, cause = False, "IVR_HUNG_UP_EARLY"
        if reached:
            if tasks.can_transition(task.state, TaskState.COMPLETED):
                tasks.transition(task, TaskState.COMPLETED)
            return
        if call.answered_at is not None and cause != "IVR_HUNG_UP_EARLY":
            cause = "ABANDONED"  # answered, but no agent came on the line: call back soon
        tasks.retry_or_fail(task, self.session().get(Campaign, task.campaign_id), cause, now)

    def _free_agent(self, call: CallAttempt, was_bridged: bool, now: datetime) -> None:
        if not call.agent_id:
            return
        state = presence.state_of(self.session(), call.agent_id)
        if state.call_id not in (None, call.id):
            return  # the agent has moved on to another call
        if was_bridged:
            campaign = self.session().get(Campaign, call.campaign_id) if call.campaign_id else None
            presence.wrap_up(state, campaign.wrap_up_seconds if campaign else 30, now)
        elif state.state in (Presence.RESERVED, Presence.IN_CALL):
            presence.set_state(state, Presence.READY)

    def _agent_leg_failed(self, call: CallAttempt, cause: str) -> list[Action]:
        """The agent's phone did not answer: release the patient politely, pause the agent."""
        if call.status is CallStatus.ENDED:
            return []
        actions = []
        if call.answered_at is not None and self._ivr_holds(call):
            call.agent_leg_id = None  # the IVR sees the agent gone, tells the patient, calls back
        elif call.answered_at is not None:
            actions.append(Hangup(call.node, call.id))
        elif call.status is CallStatus.QUEUED:  # click-to-call never reached the patient
            actions += self.finish(call, f"AGENT_{cause}")
        if call.agent_id:
            state = presence.state_of(self.session(), call.agent_id)
            presence.set_state(state, Presence.PAUSED, f"missed a call ({cause})")
        return actions

    # --- helpers -------------------------------------------------------------------------

    def _ivr_holds(self, call: CallAttempt) -> bool:
        """An IVR call that no agent has joined yet: the IVR still talks to the patient."""
        if call.bridged_at is not None or not call.campaign_id:
            return False
        campaign = self.session().get(Campaign, call.campaign_id)
        return campaign is not None and campaign.kind is CampaignKind.IVR

    def _task(self, call: CallAttempt) -> FollowUpTask | None:
        return self.session().get(FollowUpTask, call.task_id) if call.task_id else None

    def _agent_originate(self, call: CallAttempt) -> Originate:
        agent = self.session().get(User, call.agent_id)
        call.agent_leg_id = call.agent_leg_id or str(uuid.uuid4())
        return Originate(
            call.node,
            call.agent_leg_id,
            f"user/{agent.sip_extension}",
            variables={
                "origination_caller_id_number": call.number,
                "callcenter_call_id": call.id,
                "callcenter_leg": "agent",
            },
        )

    def _notify(self, kind: str, call: CallAttempt, **fields) -> None:
        """Publish once the transaction has committed: never announce what did not happen."""
        campaign_kind = None
        if call.campaign_id:
            campaign = self.session().get(Campaign, call.campaign_id)
            campaign_kind = str(campaign.kind) if campaign else None
        message = {
            "agent_id": call.agent_id,
            "call_id": call.id,
            "patient_id": call.patient_id,
            "task_id": call.task_id,
            "campaign_id": call.campaign_id,
            "campaign_kind": campaign_kind,
            **fields,
        }
        self._notices.append((kind, message))


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
