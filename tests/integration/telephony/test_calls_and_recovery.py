"""Click-to-call, hanging up from either side, and a daemon or link that goes away."""

from __future__ import annotations

import redis
from sqlalchemy import func, select

from callcenter.extensions import db
from callcenter.models import (
    AgentState,
    CallAttempt,
    CallStatus,
    CampaignStatus,
    FollowUpTask,
    Presence,
    TaskState,
)
from callcenter.telephony.commands import CommandBus
from tests import factories
from tests.integration.telephony.conftest import (
    PatientScript,
    make_campaign,
    make_trunk,
    ready,
    wait_for,
)


def test_click_to_call_rings_the_agent_then_bridges_the_patient(switchboard, client, users):
    switchboard.sim.script("+8613800000021", PatientScript("answer", hangup_after=10.0))
    patient = factories.patient("点击拨号", phone="+8613800000021", consent_call=True)
    campaign = make_campaign(make_trunk(), agents=[users.agent])
    task = factories.task(campaign, patient)
    switchboard.start_daemon()

    response = client.post(
        "/api/v1/calls",
        json={"patient_id": patient.id, "task_id": task.id},
        headers=users.headers("agent"),
    )
    assert response.status_code == 202, response.json
    call_id = response.json["id"]
    ended = wait_for(
        lambda: db.session.get(CallAttempt, call_id).status is CallStatus.ENDED,
        what="the click-to-call to end",
    )
    assert ended
    call = db.session.get(CallAttempt, call_id)
    assert call.agent_answered_at <= call.answered_at  # the agent's phone rang first
    assert call.bridged_at is not None and call.hangup_cause == "NORMAL_CLEARING"
    assert db.session.get(FollowUpTask, task.id).state is TaskState.COMPLETED
    state = db.session.get(AgentState, users.agent.id)
    assert state.state in (Presence.WRAP_UP, Presence.READY)


def test_click_to_call_refuses_what_it_must(client, users, app):
    patient = factories.patient("勿扰", phone="+8613800000022", do_not_call=True)
    factories.task(make_campaign(make_trunk(), agents=[users.agent]), patient)
    refused = client.post(
        "/api/v1/calls", json={"patient_id": patient.id}, headers=users.headers("agent")
    )
    assert refused.status_code == 409 and "do-not-call" in refused.json["message"]
    hidden = factories.patient("别人的", phone="+8613800000023")
    assert (
        client.post(
            "/api/v1/calls", json={"patient_id": hidden.id}, headers=users.headers("agent")
        ).status_code
        == 404
    )
    assert (
        client.post(
            "/api/v1/calls", json={"patient_id": patient.id}, headers=users.headers("supervisor")
        ).status_code
        == 403
    )


def test_click_to_call_with_the_command_queue_down_dials_nothing_and_undoes_itself(
    client, users, app, monkeypatch
):
    patient = factories.patient("队列断", phone="+8613800000024", consent_call=True)
    campaign = make_campaign(make_trunk(), agents=[users.agent])
    task = factories.task(campaign, patient)
    ready(users.agent)
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)  # nothing listens
    monkeypatch.setitem(app.extensions, "callcenter.commands", CommandBus(dead))

    refused = client.post(
        "/api/v1/calls",
        json={"patient_id": patient.id, "task_id": task.id},
        headers=users.headers("agent"),
    )

    assert refused.status_code == 503
    assert refused.json["error_id"] == "telephony-unavailable"
    assert "nothing was sent" in refused.json["message"]
    db.session.expire_all()
    call = db.session.scalar(select(CallAttempt).where(CallAttempt.patient_id == patient.id))
    assert call.status is CallStatus.ENDED and call.hangup_cause == "COMMAND_NOT_SENT"
    assert db.session.get(AgentState, users.agent.id).state is Presence.READY  # free again
    assert db.session.get(FollowUpTask, task.id).state is TaskState.PENDING  # still due


def test_the_clinic_hangs_up_a_bridged_call(switchboard, client, users):
    switchboard.sim.script("+8613800000031", PatientScript("answer"))  # never hangs up
    patient = factories.patient("长聊", phone="+8613800000031", consent_call=True)
    campaign = make_campaign(make_trunk(), agents=[users.agent])
    factories.task(campaign, patient)
    ready(users.agent)
    switchboard.start_daemon()
    campaign.status = CampaignStatus.RUNNING
    db.session.commit()

    call = wait_for(
        lambda: db.session.scalar(
            select(CallAttempt).where(CallAttempt.status == CallStatus.BRIDGED)
        ),
        what="a bridged call",
    )
    response = client.post(f"/api/v1/calls/{call.id}/hangup", headers=users.headers("agent"))
    assert response.status_code == 202
    wait_for(
        lambda: db.session.get(CallAttempt, call.id).status is CallStatus.ENDED,
        what="the call to end",
    )
    assert db.session.get(CallAttempt, call.id).answered_at is not None
    again = client.post(f"/api/v1/calls/{call.id}/hangup", headers=users.headers("agent"))
    assert again.status_code == 409
    other = client.get(f"/api/v1/calls/{call.id}", headers=users.headers("other_agent"))
    assert other.status_code == 404  # agents see their own calls only


def test_daemon_killed_mid_campaign_never_dials_a_task_twice(switchboard, users):
    campaign = make_campaign(make_trunk(), agents=[users.agent, users.other_agent])
    for i in range(6):
        number = f"+86138000001{i:02d}"
        switchboard.sim.script(number, PatientScript("answer", hangup_after=10.0))
        factories.task(campaign, factories.patient(f"重启{i}", phone=number, consent_call=True))
    ready(users.agent, users.other_agent)
    switchboard.start_daemon()
    campaign.status = CampaignStatus.RUNNING
    db.session.commit()

    wait_for(
        lambda: (
            db.session.scalar(
                select(func.count(CallAttempt.id)).where(CallAttempt.status == CallStatus.BRIDGED)
            )
            >= 1
        ),
        what="the first bridged call",
    )
    switchboard.stop_daemon()  # gone while calls are up
    switchboard.start_daemon()

    def all_done():
        states = db.session.scalars(select(FollowUpTask.state)).all()
        return len(states) == 6 and all(s is TaskState.COMPLETED for s in states)

    wait_for(all_done, timeout=90, what="every task completed")
    per_task = db.session.execute(
        select(CallAttempt.task_id, func.count()).group_by(CallAttempt.task_id)
    ).all()
    assert len(per_task) == 6 and all(n == 1 for _, n in per_task)
    assert (
        db.session.scalar(
            select(func.count(CallAttempt.id)).where(CallAttempt.status != CallStatus.ENDED)
        )
        == 0
    )


def test_esl_link_dropped_and_restored(switchboard, users):
    switchboard.sim.script("+8613800000041", PatientScript("answer", hangup_after=10.0))
    campaign = make_campaign(make_trunk(), agents=[users.agent])
    task = factories.task(
        campaign, factories.patient("断线", phone="+8613800000041", consent_call=True)
    )
    ready(users.agent)
    daemon = switchboard.start_daemon()
    campaign.status = CampaignStatus.RUNNING
    db.session.commit()
    wait_for(
        lambda: db.session.scalar(
            select(CallAttempt).where(CallAttempt.status == CallStatus.BRIDGED)
        ),
        what="a bridged call",
    )

    client = daemon.pool["fs1"]
    link_before = client._link
    switchboard.sim.drop_clients()
    wait_for(
        lambda: client._link is not None and client._link is not link_before and client.connected,
        what="a new, authenticated link",
    )
    wait_for(
        lambda: db.session.get(FollowUpTask, task.id).state is TaskState.COMPLETED,
        timeout=30,
        what="the call to finish after the reconnect",
    )
    call = db.session.scalar(select(CallAttempt))
    assert call.hangup_cause in ("NORMAL_CLEARING", "LOST_WHILE_DISCONNECTED")
