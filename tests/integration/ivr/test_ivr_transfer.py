"""Pressing 0 when the reserved agent's phone does not answer: the IVR tells the patient."""

from __future__ import annotations

from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import AgentState, CallAttempt, Campaign, FollowUpTask, Presence, TaskState
from callcenter.models.ivr import IvrOutcome
from tests.integration.ivr.conftest import (
    ivr_calls,
    ivr_campaign,
    listener,
    reminder_patient,
    run_campaign,
    settled_task,
)
from tests.integration.telephony.conftest import PatientScript, ready


def test_agent_phone_not_answering_gives_the_patient_a_callback(ivr_board, users):
    campaign = ivr_campaign("unanswered", transfer_wait_seconds=10, agents=[users.agent])
    ivr_board.sim.script(users.agent.sip_extension, PatientScript("no_answer", ring_seconds=2.0))
    patient, task = reminder_patient(
        ivr_board, campaign, "Rita Waits", "+8613900000041", listener((1.0, "0")), language="en"
    )
    ready(users.agent)
    run_campaign(ivr_board, campaign)

    row = ivr_calls(campaign.id, 1, timeout=30)[patient.id]
    # Not hung up on by the controller: the IVR said nobody came and booked a callback.
    assert (row.outcome, row.step) == (IvrOutcome.CALLBACK_SCHEDULED, "transfer")
    assert [t["digits"] for t in row.keypad_trail] == ["0"]
    assert (row.ended_at - row.started_at).total_seconds() < 20  # noticed, not timed out
    callback = db.session.get(FollowUpTask, row.callback_task_id)
    assert callback.patient_id == patient.id and "nobody was free" in callback.reason
    assert db.session.get(Campaign, callback.campaign_id).name == "unanswered · callbacks"
    assert settled_task(task.id).state is TaskState.COMPLETED

    call = db.session.get(CallAttempt, row.call_attempt_id)
    assert call.agent_id == users.agent.id and call.bridged_at is None
    assert call.agent_leg_id is None  # let go by the controller
    agent = db.session.get(AgentState, users.agent.id)
    assert agent.state is Presence.PAUSED and "missed a call" in agent.reason
    # One call to the patient, not a second dial after a hangup.
    calls = db.session.scalars(select(CallAttempt).where(CallAttempt.task_id == task.id)).all()
    assert len(calls) == 1
