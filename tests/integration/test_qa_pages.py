"""QA pages over HTTP: transcript search with safe highlighted snippets, landing at the moment
of a hit, masked identifiers, scorecards and the per-agent scores."""

from __future__ import annotations

import html as html_lib
import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import AuditEntry, Scorecard, utcnow
from callcenter.web.pages.qa import safe_snippet
from tests.conftest import csrf_token_from
from tests.integration import review_data
from tests.integration.review_data import signed_in


@pytest.fixture
def calls(app, users):
    app.config["DEFAULT_LANGUAGE"] = "en"
    return review_data.build(users)


def text(response) -> str:
    return response.get_data(as_text=True)


def hit_links(page: str) -> list[str]:
    return [html_lib.unescape(h) for h in re.findall(r'class="hit-link" href="([^"]+)"', page)]


def test_safe_snippet_keeps_only_mark_tags():
    assert str(safe_snippet("请按时服用<mark>降压</mark>药")) == "请按时服用<mark>降压</mark>药"
    assert str(safe_snippet("a &lt;b&gt; <mark>c</mark>")) == "a &lt;b&gt; <mark>c</mark>"
    assert str(safe_snippet("<img src=x onerror=alert(1)><mark>c</mark>")) == (
        "&lt;img src=x onerror=alert(1)&gt;<mark>c</mark>"
    )
    assert str(safe_snippet("<mark>unclosed")) == "unclosed"


@pytest.mark.parametrize("username", ["qa", "supervisor", "admin"])
def test_search_page_is_open_to_qa_and_staff(app, calls, username):
    assert signed_in(app, username).get("/qa/search").status_code == 200


def test_agents_may_not_search_or_read_transcripts_or_scores(app, calls):
    client = signed_in(app, "agent")
    rid = calls.long_recording.id
    for path in ["/qa/search?q=降压", f"/qa/recordings/{rid}", "/qa/scores"]:
        assert client.get(path).status_code == 403, path
    denied = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "access.denied"))
    assert len(list(denied)) == 3


def test_qa_search_highlights_and_links_to_the_transcript_at_the_moment(app, calls):
    client = signed_in(app, "qa")
    page = text(client.get("/qa/search?q=降压"))
    assert "<mark>降压</mark>" in page
    rid = calls.long_recording.id
    assert hit_links(page) == [f"/qa/recordings/{rid}?t=2.00"]  # QA has no player
    landed = text(client.get(hit_links(page)[0]))
    current = re.search(r'<li class="segment[^"]*"[^>]*aria-current="true"[^>]*>', landed)
    assert current and 'data-s="0.50"' in current.group(0)  # the segment holding 2.0 s
    assert "请按时服用" not in landed or "降压" in landed
    assert "/api/v1/recordings" not in landed and "<audio" not in landed


def test_supervisors_land_in_the_player_at_the_moment(app, calls):
    page = text(signed_in(app, "supervisor").get("/qa/search?q=medication"))
    assert hit_links(page) == [f"/recordings/{calls.short_recording.id}?t=2.20"]
    assert "<mark>medication</mark>" in page


def test_search_filters_and_a_search_is_audited(app, users, calls):
    client = signed_in(app, "qa")
    assert hit_links(text(client.get(f"/qa/search?q=medication&agent_id={users.agent.id}"))) == []
    assert len(hit_links(text(client.get("/qa/search?q=medication&speaker=clinic")))) == 1
    assert hit_links(text(client.get("/qa/search?q=medication&speaker=patient"))) == []
    bad = client.get("/qa/search?q=medication&from=yesterday")
    assert bad.status_code == 400 and "Enter a date as YYYY-MM-DD." in text(bad)
    searches = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "transcript.search")
    )
    assert [e.details["q"] for e in searches] == ["medication"] * 3


def test_qa_reads_masked_identifiers_and_no_patient_name(app, calls):
    rid = calls.long_recording.id
    qa_view = text(signed_in(app, "qa").get(f"/qa/recordings/{rid}"))
    assert "张伟" not in qa_view
    staff_view = text(signed_in(app, "supervisor").get(f"/qa/recordings/{rid}"))
    assert "张伟" in staff_view and "Open in the player" in staff_view


def test_a_scorecard_is_saved_and_scores_are_averaged_per_agent(app, users, calls):
    client = signed_in(app, "qa")
    rid = calls.long_recording.id
    token = csrf_token_from(text(client.get(f"/qa/recordings/{rid}")))
    checked = ["greeting", "identity_verified", "medication_adherence_asked", "advice_given"]
    response = client.post(
        f"/qa/recordings/{rid}/scorecards",
        data={"csrf_token": token, "passed": checked, "comments": "<b>good</b> call"},
    )
    assert response.status_code == 302
    card = db.session.scalar(select(Scorecard))
    assert card.score == 75.0  # 10 + 20 + 25 + 20 of 100
    assert card.agent_id == users.agent.id and card.reviewer_id == users.qa.id
    assert card.recording_id == rid
    page = text(client.get(f"/qa/recordings/{rid}"))
    assert "Scorecard saved: 75.0 / 100." in page
    assert "&lt;b&gt;good&lt;/b&gt; call" in page
    client.post(
        f"/qa/recordings/{rid}/scorecards",
        data={"csrf_token": token, "passed": ["identity_verified"]},
    )
    short = calls.short_recording.id
    client.post(
        f"/qa/recordings/{short}/scorecards",
        data={"csrf_token": token, "passed": ["greeting", "next_step_agreed"]},
    )
    scores = text(client.get("/qa/scores"))
    rows = dict(
        re.findall(r'<tr data-agent-id="(\d+)">.*?class="average"><strong>([\d.]+)<', scores, re.S)
    )
    assert rows == {str(users.agent.id): "47.5", str(users.other_agent.id): "20.0"}  # (75+20)/2
    chart = json.loads(re.search(r'id="score-data">(.*?)</script>', scores).group(1))
    today = utcnow().astimezone(ZoneInfo(app.config["DEFAULT_TIMEZONE"])).date()
    assert chart["weeks"] == [(today - timedelta(days=today.weekday())).isoformat()]
    assert entries(db.session, "scorecard.create") == 3


def entries(session, action: str) -> int:
    return len(list(session.scalars(select(AuditEntry).where(AuditEntry.action == action))))


def test_a_scorecard_needs_csrf_and_known_items(app, calls):
    client = signed_in(app, "qa")
    rid = calls.long_recording.id
    assert (
        client.post(f"/qa/recordings/{rid}/scorecards", data={"passed": ["greeting"]}).status_code
        == 400
    )
    token = csrf_token_from(text(client.get(f"/qa/recordings/{rid}")))
    client.post(
        f"/qa/recordings/{rid}/scorecards", data={"csrf_token": token, "passed": ["bribed"]}
    )
    page = text(client.get(f"/qa/recordings/{rid}"))
    assert "The scorecard was not saved: not on the checklist: bribed" in page
    assert db.session.scalar(select(Scorecard)) is None


def test_scores_period_must_make_sense(app, calls):
    response = signed_in(app, "qa").get("/qa/scores?from=2026-05-01&to=2026-04-01")
    assert response.status_code == 400 and "The start is after the end." in text(response)
