"""The appointment reminder, every branch, through the simulator over TCP."""

from __future__ import annotations

import json

from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import (
    AgentState,
    CallAttempt,
    Campaign,
    FollowUpTask,
    Patient,
    Presence,
    TaskState,
)
from callcenter.models.ivr import IvrOutcome
from callcenter.telephony.notifier import agent_channel
from tests.integration.ivr.conftest import (
    ivr_calls,
    ivr_campaign,
    listener,
    reminder_patient,
    run_campaign,
    settled_task,
)
from tests.integration.telephony.conftest import ready, wait_for


def callback_tasks(campaign: Campaign) -> list[FollowUpTask]:
    name = f"{campaign.name} · callbacks"
    target = db.session.scalar(select(Campaign).where(Campaign.name == name))
    if target is None:
        return []
    return list(
        db.session.scalars(select(FollowUpTask).where(FollowUpTask.campaign_id == target.id))
    )


def test_every_branch_of_the_reminder(ivr_board):
    campaign = ivr_campaign("reminders", max_attempts=2, max_concurrent=20)
    board = ivr_board
    confirm, confirm_task = reminder_patient(
        board, campaign, "Mary Confirm", "+8613900000001", listener((1.0, "1")), language="en"
    )
    change, change_task = reminder_patient(
        board, campaign, "王改期", "+8613900000002", listener((1.0, "2"))
    )
    silent, silent_task = reminder_patient(board, campaign, "张无声", "+8613900000003", listener())
    wrong, wrong_task = reminder_patient(
        board, campaign, "Tom Wrong", "+8613900000004",
        listener((0.5, "5"), (0.5, "7"), (0.5, "3")), language="en",
    )  # fmt: skip
    # Hangs up during the announcement, before any menu.
    early, early_task = reminder_patient(
        board, campaign, "李挂断", "+8613900000005", listener(hangup_after=1.0)
    )
    quits, _ = reminder_patient(board, campaign, "赵退订", "+8613900000006", listener((1.0, "9")))
    # Wrong once, then right: the repeat works.
    second, _ = reminder_patient(
        board, campaign, "Ann Second", "+8613900000007",
        listener((0.5, "4"), (0.5, "1")), language="en",
    )  # fmt: skip
    run_campaign(board, campaign)
    results = ivr_calls(campaign.id, 7)

    assert results[confirm.id].outcome is IvrOutcome.CONFIRMED
    assert [t["digits"] for t in results[confirm.id].keypad_trail] == ["1"]
    assert results[confirm.id].language == "en"
    assert settled_task(confirm_task.id).state is TaskState.COMPLETED

    assert results[change.id].outcome is IvrOutcome.CHANGE_REQUESTED
    assert settled_task(change_task.id).state is TaskState.COMPLETED
    callbacks = callback_tasks(campaign)
    mine = [t for t in callbacks if t.patient_id == change.id]
    assert len(mine) == 1 and "change the appointment" in mine[0].reason
    assert results[change.id].callback_task_id == mine[0].id

    for patient, task in ((silent, silent_task), (wrong, wrong_task)):
        row = results[patient.id]
        assert len(row.keypad_trail) == 3, row.keypad_trail  # asked, then repeated twice
        assert {t["step"] for t in row.keypad_trail} == {"menu"}
        settled = settled_task(task.id)
        assert settled.state is TaskState.RETRY_SCHEDULED  # first of two attempts
        waited = (settled.due_at - row.ended_at).total_seconds()
        assert 3600 - 30 <= waited <= 3600 + 30, waited  # the no-answer delay
        # The IVR settles the task before it hangs up; the call ends when the hangup comes.
        wait_for(lambda r=row: db.session.get(CallAttempt, r.call_attempt_id).ended_at,
                 what="the call to end")  # fmt: skip
    assert results[silent.id].outcome is IvrOutcome.NO_INPUT
    assert [t["digits"] for t in results[silent.id].keypad_trail] == ["", "", ""]
    assert results[wrong.id].outcome is IvrOutcome.WRONG_INPUT
    assert [t["digits"] for t in results[wrong.id].keypad_trail] == ["5", "7", "3"]

    assert results[early.id].outcome is IvrOutcome.HUNG_UP_EARLY
    assert results[early.id].step == "intro"
    assert settled_task(early_task.id).state is TaskState.RETRY_SCHEDULED

    assert results[quits.id].outcome is IvrOutcome.OPTED_OUT
    db.session.expire_all()
    flagged = db.session.get(Patient, quits.id)
    assert flagged.do_not_call and "pressed 9" in flagged.do_not_call_reason
    assert not db.session.get(Patient, confirm.id).do_not_call

    assert results[second.id].outcome is IvrOutcome.CONFIRMED
    assert [t["digits"] for t in results[second.id].keypad_trail] == ["4", "1"]
    # No result without a call attempt behind it, and one per call.
    calls = db.session.scalars(select(CallAttempt).where(CallAttempt.campaign_id == campaign.id))
    assert {c.id for c in calls} == {r.call_attempt_id for r in results.values()}


def test_hang_up_mid_flow_is_not_retried_beyond_the_policy(ivr_board):
    campaign = ivr_campaign("one-shot", max_attempts=1)
    patient, task = reminder_patient(
        ivr_board, campaign, "李挂断", "+8613900000011", listener(hangup_after=1.0)
    )
    run_campaign(ivr_board, campaign)
    row = ivr_calls(campaign.id, 1)[patient.id]
    assert row.outcome is IvrOutcome.HUNG_UP_EARLY
    settled = settled_task(task.id)
    assert settled.state is TaskState.FAILED and "last of 1 attempts" in settled.failure_reason
    assert db.session.scalar(select(CallAttempt.id).where(CallAttempt.task_id == task.id))


def test_zero_transfers_to_a_ready_agent_with_a_screen_pop(ivr_board, users, redis_conn):
    pubsub = redis_conn.pubsub()
    pubsub.subscribe(agent_channel(users.agent.id))
    campaign = ivr_campaign("transfer", transfer_wait_seconds=10, agents=[users.agent])
    patient, task = reminder_patient(
        ivr_board, campaign, "Kate Transfer", "+8613900000021",
        listener((1.0, "0"), hangup_after=40.0), language="en",
    )  # fmt: skip
    ready(users.agent)
    run_campaign(ivr_board, campaign)
    row = ivr_calls(campaign.id, 1)[patient.id]
    assert row.outcome is IvrOutcome.TRANSFERRED and row.step == "transfer"
    call = db.session.get(CallAttempt, row.call_attempt_id)
    assert call.agent_id == users.agent.id and call.bridged_at is not None
    assert settled_task(task.id).state is TaskState.COMPLETED

    pops = []
    deadline_messages = 200
    while deadline_messages and not pops:
        deadline_messages -= 1
        message = pubsub.get_message(timeout=0.1)
        if message and message["type"] == "message":
            data = json.loads(message["data"])
            if data["type"] == "call.bridged" and data.get("screen_pop"):
                pops.append(data)
    assert pops and pops[0]["patient_id"] == patient.id and pops[0]["campaign_kind"] == "ivr"
    # After the call the agent wraps up (the campaign's wrap-up is 0 s) and is ready again.
    wait_for(
        lambda: (
            db.session.get(AgentState, users.agent.id).state in (Presence.WRAP_UP, Presence.READY)
        ),
        timeout=30,
        what="the agent to be free again",
    )


def test_zero_without_a_ready_agent_schedules_a_callback(ivr_board, users):
    campaign = ivr_campaign("no-agent", transfer_wait_seconds=1, agents=[users.agent])
    patient, task = reminder_patient(
        ivr_board, campaign, "陈等待", "+8613900000031", listener((1.0, "0"))
    )
    run_campaign(ivr_board, campaign)  # the agent is logged out: nobody is ready
    row = ivr_calls(campaign.id, 1)[patient.id]
    assert row.outcome is IvrOutcome.CALLBACK_SCHEDULED
    assert settled_task(task.id).state is TaskState.COMPLETED
    callbacks = callback_tasks(campaign)
    assert [t.patient_id for t in callbacks] == [patient.id]
    assert "nobody was free" in callbacks[0].reason
    assert [a.user_id for a in db.session.get(Campaign, callbacks[0].campaign_id).agents] == [
        users.agent.id
    ]
