"""Supervisor pages over HTTP: who may open them, recording filters, the player and its audit,
who accessed a recording, and the live wallboard."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import (
    AgentState,
    AuditEntry,
    CallAttempt,
    CallStatus,
    CampaignStatus,
    FollowUpTask,
    Presence,
    TaskState,
    utcnow,
)
from tests.integration import review_data
from tests.integration.review_data import signed_in

PAGES = ["/supervisor/wallboard", "/supervisor/wallboard/live", "/recordings"]


@pytest.fixture
def calls(app, users):
    app.config["DEFAULT_LANGUAGE"] = "en"
    return review_data.build(users)


def html_of(response) -> str:
    return response.get_data(as_text=True)


def recording_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'href="/recordings/(\d+)"', html)]


def denials(path: str) -> list[AuditEntry]:
    return [
        e
        for e in db.session.scalars(select(AuditEntry).where(AuditEntry.action == "access.denied"))
        if e.details["path"] == path
    ]


@pytest.mark.parametrize("username", ["supervisor", "admin"])
def test_staff_open_every_supervisor_page(app, calls, username):
    client = signed_in(app, username)
    rid = calls.long_recording.id
    for path in [*PAGES, f"/recordings/{rid}", f"/recordings/{rid}/accesses"]:
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("username", ["agent", "qa"])
def test_other_roles_get_403_and_the_refusal_is_audited(app, calls, username):
    client = signed_in(app, username)
    rid = calls.long_recording.id
    for path in [*PAGES, f"/recordings/{rid}", f"/recordings/{rid}/accesses"]:
        response = client.get(path)
        assert response.status_code == 403, path
        [entry] = denials(path)
        assert entry.actor == username


def test_a_qa_user_cannot_open_the_player(app, calls):
    client = signed_in(app, "qa")
    path = f"/recordings/{calls.long_recording.id}"
    response = client.get(path)
    assert response.status_code == 403
    assert "recordings.play" in html_of(response)
    [entry] = denials(path)
    assert entry.details["permission"] == "recordings.play"
    viewed = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "recording.viewed"))
    assert list(viewed) == []


def test_signed_out_visitors_are_sent_to_sign_in(client, calls):
    response = client.get("/recordings")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["short", "long"]),  # newest call first
        ("campaign_id={a}", ["long"]),
        ("agent_id={agent2}", ["short"]),
        ("patient=张", ["long"]),
        ("patient=E0001", ["short"]),
        ("from=2026-03-02", ["short"]),
        ("to=2026-03-01", ["long"]),
        ("disposition=not_reached", ["short"]),
        ("min_seconds=60", ["long"]),
        ("max_seconds=60", ["short"]),
        ("campaign_id={a}&disposition=not_reached", []),
    ],
)
def test_recording_filters(app, users, calls, query, expected):
    client = signed_in(app, "supervisor")
    ids = {"long": calls.long_recording.id, "short": calls.short_recording.id}
    url = "/recordings?" + query.format(a=calls.campaign_a.id, agent2=users.other_agent.id)
    response = client.get(url)
    assert response.status_code == 200
    assert recording_ids(html_of(response)) == [ids[name] for name in expected]


def test_bad_filters_say_which_field_is_wrong(app, calls):
    client = signed_in(app, "supervisor")
    response = client.get("/recordings?from=01/03/2026&min_seconds=-3")
    html = html_of(response)
    assert response.status_code == 400
    assert 'id="from-error">Enter a date as YYYY-MM-DD.' in html
    assert "Enter a number of seconds, 0 or more." in html
    assert recording_ids(html) == []


def test_patient_names_are_escaped(app, calls):
    client = signed_in(app, "supervisor")
    for path in ["/recordings", f"/recordings/{calls.short_recording.id}"]:
        html = html_of(client.get(path))
        assert review_data.EVIL_NAME not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_player_shows_waveform_audio_and_timed_transcript(app, calls):
    client = signed_in(app, "supervisor")
    rid = calls.long_recording.id
    html = html_of(client.get(f"/recordings/{rid}?t=2.0"))
    assert f'data-audio-url="/api/v1/recordings/{rid}/audio"' in html
    assert f'data-peaks-url="/api/v1/recordings/{rid}/peaks"' in html
    assert 'data-start="2.00"' in html
    assert "vendor/wavesurfer-7.12.12.min.js" in html and "player.js" in html
    assert '<span class="w" data-s="2.00" data-e="2.40">降压</span>' in html
    assert 'data-seek="3.50"' in html  # the keyboard way to seek
    assert '<li class="segment speaker-patient" data-s="3.50"' in html


def test_opening_the_player_is_audited_and_listed_as_an_access(app, calls):
    rid = calls.long_recording.id
    signed_in(app, "supervisor").get(f"/recordings/{rid}")
    [viewed] = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "recording.viewed", AuditEntry.object_id == str(rid)
        )
    ).all()
    assert viewed.actor == "supervisor"
    assert viewed.details["call_attempt_id"] == calls.long_call.id
    html = html_of(signed_in(app, "admin").get(f"/recordings/{rid}/accesses"))
    rows = re.findall(r'<td>(\w+)</td><td data-action="([\w.]+)">([^<]+)</td>', html)
    assert ("supervisor", "recording.viewed", "Opened the player") in rows
    assert ("supervisor", "recording.read", "Read the transcript") in rows
    other = html_of(signed_in(app, "admin").get(f"/recordings/{calls.short_recording.id}/accesses"))
    assert "Nobody has accessed this recording yet." in other


def test_an_unknown_recording_is_404(app, calls):
    client = signed_in(app, "supervisor")
    assert client.get("/recordings/9999").status_code == 404
    assert client.get("/recordings/9999/accesses").status_code == 404


def test_the_wallboard_shows_agents_live_calls_and_campaign_progress(app, users, calls):
    now = utcnow()
    db.session.add_all(
        [
            AgentState(
                user_id=users.agent.id, state=Presence.IN_CALL, since=now - timedelta(seconds=75)
            ),
            AgentState(
                user_id=users.other_agent.id,
                state=Presence.PAUSED,
                reason="meal",
                since=now - timedelta(minutes=3),
            ),
        ]
    )
    live = CallAttempt(
        campaign_id=calls.campaign_a.id,
        patient_id=calls.zh_patient.id,
        agent_id=users.agent.id,
        number="+8613800138001",
        status=CallStatus.BRIDGED,
        started_at=now - timedelta(seconds=80),
        answered_at=now - timedelta(seconds=72),
    )
    db.session.add(live)
    calls.campaign_a.status = CampaignStatus.RUNNING
    for state in (TaskState.PENDING, TaskState.PENDING, TaskState.COMPLETED):
        db.session.add(
            FollowUpTask(
                campaign_id=calls.campaign_a.id, patient_id=calls.zh_patient.id, state=state
            )
        )
    ended = db.session.get(CallAttempt, calls.long_call.id)
    ended.hangup_cause = "NORMAL_CLEARING"
    db.session.commit()

    client = signed_in(app, "supervisor")
    page = html_of(client.get("/supervisor/wallboard"))
    assert 'hx-get="/supervisor/wallboard/live" hx-trigger="every 2s"' in page
    body = html_of(client.get("/supervisor/wallboard/live"))
    assert "<html" not in body  # a fragment for htmx to swap in
    agents = body.split('id="wallboard-agents"')[1].split("</table>")[0]
    assert re.search(
        r"Agent</td><td>1001</td>\s*<td><span class=\"badge state-in_call\">In call", agents
    )
    assert "(Meal)" in agents and "3:0" in agents
    calls_table = body.split('id="wallboard-calls"')[1].split("</table>")[0]
    assert re.search(r"张伟</td><td>Hypertension A</td><td>Talking</td><td>1:1\d", calls_table)
    campaign = body.split('id="wallboard-campaigns"')[1].split("</table>")[0]
    cells = re.findall(r"<td>([^<]*)</td>", campaign.split("Hypertension A")[1])
    # status, pending, in progress, retry, completed, failed, calls, answer rate, handle time
    # the live call is not counted yet: one ended call, answered, talked 95 s
    assert cells[:9] == ["Running", "2", "0", "0", "1", "0", "1", "100%", "1:35"]
