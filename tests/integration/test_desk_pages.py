"""The agent desk over HTTP: presence, the screen pop, the follow-up log, the event stream,
languages and role checks (the browser tests in tests/e2e drive the same pages in Chromium)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import (
    AgentState,
    AuditEntry,
    FollowUpLog,
    FollowUpTask,
    Observation,
    ObservationSource,
    Presence,
    Recording,
    utcnow,
)
from callcenter.services import indicators
from callcenter.services.desk import CALLBACK_REASON
from callcenter.telephony.commands import STREAM
from callcenter.telephony.notifier import CallNotifier
from tests.conftest import csrf_token_from, login
from tests.e2e.world import bridged_call, campaign_for, patient_with_record
from tests.unit.test_translations import english_leftovers


@pytest.fixture
def desk(app, users, client, redis_conn):
    app.config["DEFAULT_LANGUAGE"] = "en"  # the Chinese pages are asked for by Accept-Language
    users.agent.display_name = "王坐席"
    db.session.commit()
    patient = patient_with_record("李秀英", "+8613800138111")
    campaign = campaign_for([users.agent])
    call = bridged_call(users.agent, patient, campaign)
    login(client, "agent")
    token = csrf_token_from(client.get("/desk").get_data(as_text=True))
    return {"patient": patient, "campaign": campaign, "call": call, "token": token}


def post(client, desk, path: str, data: dict):
    return client.post(path, data=data, headers={"X-CSRFToken": desk["token"]})


def test_the_desk_shows_presence_queue_and_the_event_stream(client, desk):
    page = client.get("/desk", headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-events="/events"' in html
    assert "vendor/htmx-2.0.11.min.js" in html and "vendor/chart-4.6.1.umd.min.js" in html
    assert "My follow-up tasks" in html and "Pause" in html


def test_presence_buttons_change_the_agents_state(client, desk, users):
    html = post(client, desk, "/desk/presence", {"state": "ready"}).get_data(as_text=True)
    assert 'data-state="ready"' in html
    refused = post(client, desk, "/desk/presence", {"state": "paused", "reason": ""})
    assert "Choose a reason for the pause." in refused.get_data(as_text=True)
    paused = post(client, desk, "/desk/presence", {"state": "paused", "reason": "meal"})
    assert 'data-state="paused"' in paused.get_data(as_text=True)
    db.session.expire_all()
    state = db.session.get(AgentState, users.agent.id)
    assert (state.state, state.reason) == (Presence.PAUSED, "meal")


def test_the_screen_pop_shows_the_record_and_is_audited(client, desk):
    response = client.get(f"/desk/pop/{desk['call'].id}", headers={"Accept-Language": "en"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "李秀英" in html and "高血压" in html  # name and tag
    assert "+86138****8111" in html and "8613800138111" not in html  # the phone is masked
    assert "原发性高血压" in html and "氨氯地平" in html and "青霉素" in html
    # The latest systolic value (147.5 after ten years of drift) is above 139: marked.
    row = re.search(r'<tr class="out-of-range" data-code="8480-6">.*?</tr>', html, re.S)
    assert row and "147.5 mmHg" in row.group(0)
    trends = json.loads(re.search(r'class="trend-data">(.*?)</script>', html, re.S).group(1))
    assert set(trends) == {"bp", "glucose", "hba1c", "bmi", "cholesterol"}
    assert len(trends["bp"][0]["points"]) == 40  # ten years, quarterly
    assert 'name="q_bp"' in html and "Latest blood pressure?" in html
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "patient.read").order_by(AuditEntry.seq)
    ).all()[-1]
    assert entry.object_id == str(desk["patient"].id)
    assert entry.details["purpose"] == f"screen_pop:{desk['call'].id}"


def test_an_agent_cannot_pop_another_agents_call(client, desk, users):
    other = bridged_call(users.other_agent, desk["patient"], desk["campaign"])
    assert client.get(f"/desk/pop/{other.id}").status_code == 404


def test_patient_data_is_escaped(client, desk, users):
    evil = patient_with_record("<script>alert(1)</script>", "+8613800138222")
    call = bridged_call(users.agent, evil, desk["campaign"])
    html = client.get(f"/desk/pop/{call.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_saving_a_log_links_the_call_and_stores_measurements(client, desk):
    call = desk["call"]
    db.session.add(Recording(call_attempt_id=call.id, source_path="/tmp/x.wav"))
    db.session.commit()
    form = {
        "call_id": call.id,
        "disposition": "reached",
        "q_bp": "135/85",
        "q_takes_medicine": "yes",
        "q_symptoms": "无 / None",
        "q_glucose": "6,4",
        "notes": "按时服药，血压控制尚可",
        "next_follow_up_on": (utcnow().date() + timedelta(days=90)).isoformat(),
        "callback_at": (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT10:30"),
    }
    response = post(client, desk, "/desk/log", form)
    assert response.status_code == 200 and "log-saved" in response.get_data(as_text=True)
    assert response.headers["HX-Trigger"] == "desk-refresh"
    log = db.session.scalar(select(FollowUpLog))
    assert (log.call_attempt_id, log.task_id, log.disposition) == (call.id, call.task_id, "reached")
    assert log.recording_id == db.session.scalar(select(Recording.id))
    assert log.answers == {
        "bp": "135/85",
        "takes_medicine": True,
        "symptoms": "无 / None",
        "glucose": 6.4,
    }
    measured = db.session.execute(
        select(Observation.code, Observation.value).where(
            Observation.source == ObservationSource.CALL
        )
    ).all()
    assert sorted(measured) == sorted(
        [(indicators.SYSTOLIC, 135), (indicators.DIASTOLIC, 85), (indicators.FASTING_GLUCOSE, 6.4)]
    )
    callback = db.session.scalar(select(FollowUpTask).where(FollowUpTask.reason == CALLBACK_REASON))
    assert callback.assigned_agent_id == log.agent_id and callback.due_at > utcnow()
    queue = client.get("/desk/queue").get_data(as_text=True)
    assert queue.count("李秀英") >= 1 and "No callbacks scheduled." not in queue
    patient_page = client.get(f"/patients/{desk['patient'].id}").get_data(as_text=True)
    assert "按时服药，血压控制尚可" in patient_page and 'class="recording"' in patient_page
    again = post(client, desk, "/desk/log", form).get_data(as_text=True)
    assert "A follow-up for this call is saved." in again and "<form" not in again
    assert len(db.session.scalars(select(FollowUpLog)).all()) == 1


def test_bad_answers_are_reported_beside_their_question(client, desk):
    form = {"call_id": desk["call"].id, "disposition": "", "q_bp": "135", "q_glucose": "high"}
    html = post(client, desk, "/desk/log", form).get_data(as_text=True)
    assert "Enter the blood pressure as systolic/diastolic" in html
    assert "Enter a number." in html and "Choose how the call ended." in html
    assert 'value="135"' in html  # what was typed stays in the form
    assert db.session.scalar(select(FollowUpLog)) is None


def test_click_to_call_from_the_desk_places_the_call(client, desk, redis_conn, app):
    from tests.integration.telephony.conftest import make_trunk

    make_trunk()
    task = db.session.scalar(select(FollowUpTask))
    html = post(
        client, desk, "/desk/call", {"patient_id": desk["patient"].id, "task_id": task.id}
    ).get_data(as_text=True)
    assert "your phone rings first" in html
    assert redis_conn.xlen(STREAM) == 1


def _read_events(client, headers=None) -> list[dict]:
    body = client.get("/events", headers=headers or {}).get_data(as_text=True)
    events, comments = [], body.count(": keep-alive")
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            events.append({"id": fields["id"], **json.loads(fields["data"])})
    return events, comments


def test_the_event_stream_resumes_after_last_event_id(app, client, desk, users, redis_conn):
    app.config.update(SSE_HEARTBEAT_SECONDS=0.2, SSE_MAX_STREAM_SECONDS=0.7)
    notifier = CallNotifier(redis_conn)
    notifier.publish("call.answered", agent_id=users.agent.id, call_id="one")
    notifier.publish("call.bridged", agent_id=users.other_agent.id, call_id="not-mine")
    notifier.publish("call.bridged", agent_id=users.agent.id, call_id="two", screen_pop=True)
    notifier.publish("call.ended", agent_id=users.agent.id, call_id="three")
    everything, _ = _read_events(client, {"Last-Event-ID": "0-0"})
    assert [e["call_id"] for e in everything] == ["one", "two", "three"]
    resumed, _ = _read_events(client, {"Last-Event-ID": everything[0]["id"]})
    assert [e["call_id"] for e in resumed] == ["two", "three"]
    quiet, keep_alives = _read_events(client)  # no Last-Event-ID: only what comes next
    assert quiet == [] and keep_alives >= 2


def test_supervisors_stream_every_agents_events(app, client, users, redis_conn):
    app.config.update(SSE_HEARTBEAT_SECONDS=0.2, SSE_MAX_STREAM_SECONDS=0.5)
    notifier = CallNotifier(redis_conn)
    notifier.publish("call.bridged", agent_id=users.agent.id, call_id="a")
    notifier.publish("call.bridged", agent_id=users.other_agent.id, call_id="b")
    login(client, "supervisor")
    events, _ = _read_events(client, {"Last-Event-ID": "0-0"})
    assert [e["call_id"] for e in events] == ["a", "b"]


def test_qa_may_not_open_the_desk_and_the_refusal_is_audited(client, users):
    login(client, "qa")
    assert client.get("/desk").status_code == 403
    assert client.get("/events").status_code == 403
    denied = db.session.scalars(
        select(AuditEntry.object_id).where(AuditEntry.action == "access.denied")
    ).all()
    assert {"pages.desk_page", "pages.events"} <= set(denied)


def test_the_menu_follows_the_role(app, client, users):
    app.config["DEFAULT_LANGUAGE"] = "en"
    login(client, "agent")
    agent_home = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'href="/desk"' in agent_home and 'href="/audit"' not in agent_home
    client.post("/logout", data={"csrf_token": csrf_token_from(agent_home)})
    login(client, "admin")
    admin_home = client.get("/").get_data(as_text=True)
    assert 'href="/desk"' not in admin_home and 'href="/audit"' in admin_home


def test_the_language_comes_from_the_choice_then_the_browser_then_the_setting(app, client, users):
    assert 'lang="en"' in client.get("/login", headers={"Accept-Language": "en-US"}).text
    assert 'lang="zh-CN"' in client.get("/login", headers={"Accept-Language": "zh-CN,zh"}).text
    app.config["DEFAULT_LANGUAGE"] = "en"
    assert "Sign in" in client.get("/login").text  # no Accept-Language: the setting
    token = csrf_token_from(client.get("/login").text)
    switched = client.post(
        "/language", data={"language": "zh", "next": "/login", "csrf_token": token}
    )
    assert switched.status_code == 302 and switched.headers["Location"] == "/login"
    page = client.get("/login", headers={"Accept-Language": "en"}).text
    assert 'lang="zh-CN"' in page and "登录" in page
    bad = client.post("/language", data={"language": "fr", "csrf_token": token})
    assert bad.status_code == 422 and "language must be one of zh, en" in bad.text
    unsafe = client.post(
        "/language", data={"language": "en", "next": "//evil.example", "csrf_token": token}
    )
    assert unsafe.headers["Location"] == "/"


@pytest.mark.parametrize("path", ["/", "/desk", "/patients", "/patients/{id}", "/desk/pop/{call}"])
def test_chinese_pages_have_no_english_left(client, desk, path):
    url = path.format(id=desk["patient"].id, call=desk["call"].id)
    html = client.get(url, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'lang="zh-CN"' in html or path.startswith("/desk/pop")
    assert english_leftovers(html) == []


def test_the_event_stream_holds_no_database_connection(app, client, desk, users, redis_conn):
    app.config.update(SSE_HEARTBEAT_SECONDS=0.2, SSE_MAX_STREAM_SECONDS=5)
    CallNotifier(redis_conn).publish("call.bridged", agent_id=users.agent.id, call_id="x")
    response = client.get("/events", headers={"Last-Event-ID": "0-0"}, buffered=False)
    stream = iter(response.response)
    assert next(stream) == b"retry: 1000\n\n"
    assert b'"call_id": "x"' in next(stream)
    assert db.engine.pool.checkedout() == 0  # streaming, yet every connection is back in the pool
    response.close()


def test_recordings_are_linked_only_for_roles_that_may_play_them(app, client, desk, users):
    call = desk["call"]
    recording = Recording(call_attempt_id=call.id, source_path="/tmp/y.wav", duration_seconds=75)
    db.session.add(recording)
    db.session.commit()
    form = {"call_id": call.id, "disposition": "reached", "notes": "ok"}
    assert "log-saved" in post(client, desk, "/desk/log", form).text
    agent_view = client.get(f"/patients/{desk['patient'].id}").text
    assert "Recorded" in agent_view and "1:15" in agent_view
    assert f"/recordings/{recording.id}" not in agent_view  # agents may not play recordings
    client.post("/logout", data={"csrf_token": desk["token"]})
    login(client, "supervisor")
    supervisor_view = client.get(f"/patients/{desk['patient'].id}").text
    player_exists = "pages.recording_player" in app.view_functions
    assert (f'href="/recordings/{recording.id}"' in supervisor_view) is player_exists
