"""Campaigns dialled by the real daemon through the simulator, every outcome end to end."""

from __future__ import annotations

import json
import wave
from array import array
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callcenter.extensions import db
from callcenter.models import (
    AgentState,
    CallAttempt,
    CallStatus,
    Campaign,
    CampaignStatus,
    FollowUpTask,
    Presence,
    Recording,
    TaskState,
    TrunkStatus,
)
from callcenter.telephony.notifier import agent_channel
from tests import factories
from tests.integration.telephony.conftest import (
    PatientScript,
    make_campaign,
    make_trunk,
    ready,
    wait_for,
)

SPEECH = str(
    Path(__file__).resolve().parents[2]
    / "data"
    / "freeswitch-wire"
    / "recordings"
    / "mono_8k_followup.wav"
)
FINAL_OR_WAITING = (
    TaskState.COMPLETED,
    TaskState.FAILED,
    TaskState.RETRY_SCHEDULED,
    TaskState.CANCELLED,
)


def patient_with(switchboard, name: str, number: str, script: PatientScript, **fields):
    switchboard.sim.script(number, script)
    return factories.patient(name, phone=number, consent_call=True, **fields)


def settled(campaign_id: int, count: int):
    def check():
        states = db.session.scalars(
            select(FollowUpTask.state).where(FollowUpTask.campaign_id == campaign_id)
        ).all()
        return len(states) == count and all(s in FINAL_OR_WAITING for s in states)

    return check


def channel_rms(path: str) -> tuple[float, float]:
    with wave.open(path, "rb") as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 8000, 2)
        samples = array("h", wav.readframes(wav.getnframes()))
    left, right = samples[0::2], samples[1::2]

    def rms(values) -> float:
        return (sum(v * v for v in values) / max(1, len(values))) ** 0.5

    return rms(left), rms(right)


def test_every_outcome_of_an_agent_campaign(switchboard, users, redis_conn):
    pubsub = redis_conn.pubsub()
    pubsub.subscribe(agent_channel(users.agent.id), agent_channel(users.other_agent.id))
    answer = patient_with(
        switchboard,
        "王小明",
        "+8613800000001",
        PatientScript("answer", speech_wav=SPEECH, hangup_after=10.0),
    )
    patient_with(switchboard, "李忙", "+8613800000002", PatientScript("busy"))
    patient_with(switchboard, "张不接", "+8613800000003", PatientScript("no_answer"))
    patient_with(switchboard, "赵拒绝", "+8613800000004", PatientScript("reject"))
    patient_with(switchboard, "钱空号", "+8613800000005", PatientScript("invalid"))
    trunk = make_trunk()
    campaign = make_campaign(trunk, agents=[users.agent, users.other_agent])
    for p in db.session.scalars(select(factories.Patient)).all():
        factories.task(campaign, p)
    ready(users.agent, users.other_agent)
    switchboard.start_daemon()
    campaign.status = CampaignStatus.RUNNING
    db.session.commit()

    wait_for(settled(campaign.id, 5), timeout=60, what="every task to settle")
    tasks = {t.patient_id: t for t in db.session.scalars(select(FollowUpTask))}
    calls = {c.patient_id: c for c in db.session.scalars(select(CallAttempt))}
    by_name = {p.name: p.id for p in db.session.scalars(select(factories.Patient))}

    answered = calls[answer.id]
    assert tasks[answer.id].state is TaskState.COMPLETED
    assert answered.answered_at and answered.bridged_at and answered.ended_at
    assert answered.agent_id in (users.agent.id, users.other_agent.id)
    assert answered.hangup_cause == "NORMAL_CLEARING" and answered.billsec >= 0

    expected = {
        "李忙": ("USER_BUSY", 600),
        "张不接": ("NO_ANSWER", 3600),
        "赵拒绝": ("CALL_REJECTED", 86400),
    }
    for name, (cause, delay) in expected.items():
        task, call = tasks[by_name[name]], calls[by_name[name]]
        assert call.hangup_cause == cause, name
        assert task.state is TaskState.RETRY_SCHEDULED, name
        waited = (task.due_at - call.ended_at).total_seconds()
        assert delay - 5 <= waited <= delay + 5, (name, waited)
    invalid = tasks[by_name["钱空号"]]
    assert invalid.state is TaskState.FAILED
    assert calls[by_name["钱空号"]].hangup_cause in ("UNALLOCATED_NUMBER", "NO_ROUTE_DESTINATION")
    assert "cannot be reached" in invalid.failure_reason

    # Recorded in stereo from answer: speech on the patient's (left) channel only.
    recording = wait_for(lambda: db.session.scalar(select(Recording)), what="recording row")
    assert recording.call_attempt_id == answered.id
    left, right = channel_rms(recording.source_path)
    assert left > 300 and right < left / 10
    assert redis_conn.llen("rq:queue:recordings") == 1

    # The screen pop reached the agent who took the call, naming the patient.
    pops = []
    for _ in range(200):
        message = pubsub.get_message(timeout=0.05)
        if message and message["type"] == "message":
            pops.append(json.loads(message["data"]))
    bridged = [m for m in pops if m["type"] == "call.bridged"]
    assert bridged and bridged[0]["screen_pop"] is True
    assert bridged[0]["patient_id"] == answer.id and bridged[0]["agent_id"] == answered.agent_id
    # With no wrap-up time both agents are ready again.
    states = db.session.scalars(select(AgentState.state)).all()
    assert set(states) <= {Presence.READY, Presence.WRAP_UP}


def test_busy_is_retried_after_its_delay_then_given_up(switchboard, users):
    patient = patient_with(switchboard, "李忙", "+8613800000002", PatientScript("busy"))
    campaign = make_campaign(
        make_trunk(),
        agents=[users.agent],
        max_attempts=2,
        retry_delays={"busy": 1, "no_answer": 1, "rejected": 1, "invalid": None},
    )
    task = factories.task(campaign, patient)
    ready(users.agent)
    switchboard.start_daemon()
    campaign.status = CampaignStatus.RUNNING
    db.session.commit()

    wait_for(
        lambda: db.session.get(FollowUpTask, task.id).state is TaskState.FAILED,
        timeout=30,
        what="the task to fail after two attempts",
    )
    calls = db.session.scalars(select(CallAttempt).order_by(CallAttempt.started_at)).all()
    assert [c.hangup_cause for c in calls] == ["USER_BUSY", "USER_BUSY"]
    gap = (calls[1].started_at - calls[0].ended_at).total_seconds()
    assert gap >= 0.9, gap
    failed = db.session.get(FollowUpTask, task.id)
    assert failed.attempts == 2 and "last of 2" in failed.failure_reason


def test_patients_outside_their_window_or_without_consent_are_not_dialled(switchboard, users):
    night = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "00:01"}]
    campaign = make_campaign(make_trunk(), agents=[users.agent], calling_windows=night)
    asleep = patient_with(
        switchboard,
        "Night Owl",
        "+14155550101",
        PatientScript("answer"),
        timezone="America/Los_Angeles",
    )
    no_consent = patient_with(switchboard, "无同意", "+8613800000009", PatientScript("answer"))
    no_consent.consent_call = False
    dnc = patient_with(switchboard, "勿扰", "+8613800000010", PatientScript("answer"))
    dnc.do_not_call = True
    db.session.commit()
    t_asleep = factories.task(campaign, asleep)
    t_consent = factories.task(campaign, no_consent)
    t_dnc = factories.task(campaign, dnc)
    ready(users.agent)
    switchboard.start_daemon()
    campaign.status = CampaignStatus.RUNNING
    db.session.commit()

    wait_for(
        lambda: db.session.get(FollowUpTask, t_dnc.id).state is TaskState.CANCELLED,
        what="the do-not-call task to be cancelled",
    )
    assert db.session.get(FollowUpTask, t_consent.id).state is TaskState.CANCELLED
    assert "consented" in db.session.get(FollowUpTask, t_consent.id).failure_reason
    parked = db.session.get(FollowUpTask, t_asleep.id)
    if parked.state is TaskState.SCHEDULED:  # unless it is 00:00 in Los Angeles right now
        assert parked.due_at is not None
    assert db.session.scalar(select(func.count(CallAttempt.id))) == 0


def test_pacing_limits_are_never_exceeded(switchboard, app):
    from callcenter.models import CampaignKind, Role

    agents = [factories.user(f"pace{i}", Role.AGENT, sip_extension=f"20{i:02d}") for i in range(8)]
    trunk = make_trunk(max_concurrent=3, calls_per_second=50)
    campaign = make_campaign(
        trunk, agents=agents, kind=CampaignKind.AGENT, calls_per_second=2, max_concurrent=10
    )
    for i in range(8):
        p = patient_with(
            switchboard,
            f"Pace {i}",
            f"+86139000000{i:02d}",
            PatientScript("answer", hangup_after=5.0),
        )
        factories.task(campaign, p)
    ready(*agents)
    switchboard.start_daemon()
    campaign.status = CampaignStatus.RUNNING
    db.session.commit()

    peak = 0

    def done():
        nonlocal peak
        active = db.session.scalar(
            select(func.count(CallAttempt.id)).where(CallAttempt.status != CallStatus.ENDED)
        )
        # The patients' legs on the switch (not the loopback B-legs nor the agents' phones).
        live = sum(1 for c in switchboard.sim.channels.values() if c.kind == "patient")
        peak = max(peak, active, live)
        return settled(campaign.id, 8)()

    wait_for(done, timeout=90, what="all paced calls")
    assert peak <= 3, peak  # the trunk's concurrency cap
    starts = sorted(c.started_at for c in db.session.scalars(select(CallAttempt)))
    for i in range(len(starts)):
        in_one_second = [s for s in starts if 0 <= (s - starts[i]).total_seconds() < 1.0]
        assert len(in_one_second) <= 2 + 2, in_one_second  # 2/s plus the first burst


def test_a_campaign_without_a_reachable_switch_pauses_and_says_why(switchboard, users):
    from callcenter.telephony.daemon import TelephonyDaemon
    from callcenter.telephony.esl import EslConfig

    trunk = make_trunk()
    campaign = make_campaign(trunk, agents=[users.agent])
    factories.task(campaign, factories.patient("无人", phone="+8613800000011", consent_call=True))
    ready(users.agent)
    daemon = TelephonyDaemon(
        switchboard.app,
        [EslConfig(port=1, name="fs1", backoff_initial=0.05, backoff_max=0.2)],
        tick=0.05,
    )
    running = switchboard.loop.spawn(daemon.run())
    campaign.status = CampaignStatus.RUNNING
    db.session.commit()
    try:
        paused = wait_for(
            lambda: db.session.get(Campaign, campaign.id).status is CampaignStatus.PAUSED,
            what="the campaign to pause",
        )
        assert paused
        campaign = db.session.get(Campaign, campaign.id)
        assert "fs1 is unreachable" in campaign.status_reason
        assert db.session.get(type(trunk), trunk.id).status is TrunkStatus.DOWN
    finally:
        switchboard.loop.loop.call_soon_threadsafe(daemon.stop)
        running.result(20)


@pytest.mark.parametrize("bad_number", ["+14155552671"])
def test_a_number_the_trunk_cannot_dial_fails_the_task_with_a_reason(
    switchboard, users, bad_number
):
    from callcenter.models import NumberFormat

    trunk = make_trunk(number_format=NumberFormat.NATIONAL)
    campaign = make_campaign(trunk, agents=[users.agent])
    task = factories.task(
        campaign, patient_with(switchboard, "Abroad", bad_number, PatientScript("answer"))
    )
    ready(users.agent)
    switchboard.start_daemon()
    campaign.status = CampaignStatus.RUNNING
    db.session.commit()
    failed = wait_for(
        lambda: db.session.get(FollowUpTask, task.id).state is TaskState.FAILED,
        what="the task to fail",
    )
    assert failed
    assert "national numbers only" in db.session.get(FollowUpTask, task.id).failure_reason
