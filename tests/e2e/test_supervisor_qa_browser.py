"""Supervisor and QA pages in Chromium: the wallboard refreshes itself, a recording plays through
the range endpoint with the transcript highlight following it, QA finds a phrase and lands at its
moment, and QA cannot open the player."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from callcenter.extensions import db
from callcenter.models import (
    AuditEntry,
    CallAttempt,
    CallStatus,
    Disposition,
    FollowUpLog,
    Recording,
    RecordingStatus,
    Speaker,
    TranscriptSegment,
)
from callcenter.services import recording_pipeline, transcripts
from recordings import audio
from tests import factories
from tests.e2e.conftest import sign_in
from tests.integration.test_recording_job import STEREO
from tests.integration.transcript_data import timed
from tests.unit.test_translations import english_leftovers

pytestmark = pytest.mark.e2e

# Words with the times the player highlights them at (the audio is 10.8 s of a follow-up call).
CLINIC_WORDS = [("Please", 0.3), ("take", 0.8), ("your", 1.2), ("blood", 1.6), ("pressure", 2.1),
                ("medicine", 2.7), ("every", 3.3), ("morning", 3.7)]  # fmt: skip
PATIENT_WORDS = [("I", 5.0), ("take", 5.4), ("it", 5.8), ("after", 6.2), ("breakfast", 6.7),
                 ("thank", 8.0), ("you", 8.5)]  # fmt: skip


@pytest.fixture
def recorded(app, users, tmp_path):
    """A stored (encrypted) stereo recording of a campaign call with a timed transcript."""
    app.config["DEFAULT_LANGUAGE"] = "en"
    patient = factories.patient("张伟", phone="+8613800138001", consent_call=True)
    campaign = factories.campaign("Hypertension A", agents=[users.agent])
    call = CallAttempt(
        campaign_id=campaign.id,
        patient_id=patient.id,
        agent_id=users.agent.id,
        number=patient.primary_phone,
        status=CallStatus.ENDED,
        started_at=datetime(2026, 3, 1, 2, 0, tzinfo=UTC),
        answered_at=datetime(2026, 3, 1, 2, 0, 4, tzinfo=UTC),
        billsec=11,
    )
    db.session.add(call)
    db.session.flush()
    recording = Recording(
        call_attempt_id=call.id, source_path=str(shutil.copy(STEREO, tmp_path / "call.wav"))
    )
    db.session.add(recording)
    db.session.commit()
    settings = recording_pipeline.PipelineSettings.from_config(app.config)
    recording_pipeline.store(db.session, recording, settings)
    recording.peaks = audio.peaks(STEREO)  # the worker computes them when it transcribes
    recording.status = RecordingStatus.READY
    segments = [
        TranscriptSegment(
            speaker=speaker,
            start_seconds=words[0][1],
            end_seconds=words[-1][1] + 0.4,
            text=" ".join(w for w, _ in words),
            words=timed(words),
            language="en",
            engine="vosk",
            model="test-model",
        )
        for speaker, words in ((Speaker.CLINIC, CLINIC_WORDS), (Speaker.PATIENT, PATIENT_WORDS))
    ]
    transcripts.replace_segments(db.session, recording.id, segments)
    db.session.add(
        FollowUpLog(
            patient_id=patient.id,
            agent_id=users.agent.id,
            call_attempt_id=call.id,
            recording_id=recording.id,
            disposition=Disposition.REACHED,
        )
    )
    db.session.commit()
    return recording


def audit_count(action: str, recording_id: int) -> int:
    db.session.rollback()  # see what the server's threads committed
    return db.session.scalar(
        select(func.count()).where(
            AuditEntry.action == action, AuditEntry.object_id == str(recording_id)
        )
    )


def highlighted(page) -> list[str]:
    return page.eval_on_selector_all(".w.current", "els => els.map(e => e.textContent)")


def test_supervisor_sees_the_wallboard_and_plays_a_recording_with_the_transcript_following(
    users, recorded, live_server, open_page, screens
):
    page = open_page("en-US")
    sign_in(page, live_server.url, "supervisor")

    page.goto(f"{live_server.url}/supervisor/wallboard")
    first = page.get_attribute("[data-updated]", "data-updated")
    page.wait_for_function(  # htmx swapped in a newer board
        "(t) => document.querySelector('[data-updated]').dataset.updated !== t", arg=first
    )
    assert "Hypertension A" not in page.inner_text("#wallboard-campaigns")  # a draft campaign
    assert "Agent" in page.inner_text("#wallboard-agents")
    screens.save(page, "wallboard")

    page.goto(f"{live_server.url}/recordings")
    page.click(f"a[href='/recordings/{recorded.id}']")
    page.wait_for_url(f"**/recordings/{recorded.id}")
    # wavesurfer drew both channels from the server's peaks (in its shadow DOM).
    page.wait_for_function(
        "() => { const host = document.querySelector('#waveform > div');"
        " return host && host.shadowRoot && host.shadowRoot.querySelectorAll('canvas').length > 0 }"
    )
    page.click("button[data-action=toggle]")
    page.wait_for_function("() => document.getElementById('player-audio').currentTime > 1.7")
    early = highlighted(page)
    page.wait_for_function("() => document.getElementById('player-audio').currentTime > 5.9")
    later = highlighted(page)
    assert early and later and early != later
    assert set(early) <= {w for w, _ in CLINIC_WORDS}
    assert page.get_attribute(".segment[aria-current=true]", "class").endswith("speaker-patient")
    screens.save(page, "player")
    assert page.errors == []

    # A click on a word seeks there.
    page.click(".segment.speaker-clinic .w:text('blood')")
    page.wait_for_function(
        "() => Math.abs(document.getElementById('player-audio').currentTime - 1.6) < 0.6"
    )
    assert audit_count("recording.viewed", recorded.id) == 1
    assert audit_count("recording.played", recorded.id) >= 1

    page.goto(f"{live_server.url}/recordings/{recorded.id}/accesses")
    assert page.query_selector("#accesses td[data-action='recording.played']") is not None
    assert "Played" in page.inner_text("#accesses")


def test_qa_finds_a_phrase_lands_at_its_moment_and_cannot_open_the_player(
    users, recorded, live_server, open_page, screens
):
    page = open_page("en-US")
    sign_in(page, live_server.url, "qa")
    page.goto(f"{live_server.url}/qa/search")
    page.fill("input[name=q]", '"after breakfast"')
    page.keyboard.press("Enter")
    page.wait_for_selector(".hit mark")
    assert page.inner_text(".hit mark") == "after"  # every matched word is marked
    screens.save(page, "search")
    page.click(".hit-link")
    page.wait_for_url(f"**/qa/recordings/{recorded.id}?t=6.20")
    assert page.get_attribute(".segment[aria-current=true]", "data-s") == "5.00"
    assert page.query_selector("audio") is None

    response = page.goto(f"{live_server.url}/recordings/{recorded.id}")
    assert response.status == 403
    assert "Not allowed" in page.inner_text("main")
    response = page.request.get(f"{live_server.url}/api/v1/recordings/{recorded.id}/audio")
    assert response.status == 403
    assert audit_count("recording.played", recorded.id) == 0


def test_the_chinese_review_pages_have_no_untranslated_strings(
    users, recorded, live_server, open_page
):
    for user, name in [
        (users.agent, "王坐席"),
        (users.supervisor, "李主管"),
        (users.other_agent, "赵坐席"),
    ]:
        user.display_name = name  # names are data, not interface text
    db.session.commit()
    page = open_page("zh-CN")
    sign_in(page, live_server.url, "supervisor")
    for path in [
        "/supervisor/wallboard",
        "/recordings",
        f"/recordings/{recorded.id}",
        f"/recordings/{recorded.id}/accesses",
        "/qa/search?q=breakfast",
        f"/qa/recordings/{recorded.id}?t=6.2",
        "/qa/scores",
    ]:
        page.goto(f"{live_server.url}{path}")
        assert page.get_attribute("html", "lang") == "zh-CN"
        leftovers = [
            s for s in english_leftovers(page.content()) if s not in {w for w, _ in CLINIC_WORDS}
        ]
        assert leftovers == [], path
