"""One call from start to review, in Chromium: the agent takes it with a screen pop and saves the
follow-up; the worker stores and transcribes its recording untouched; a supervisor plays that
recording with the transcript following; QA finds a phrase from it and lands at its moment, and
cannot open the player."""

from __future__ import annotations

from pathlib import Path

import pytest
from rq import SimpleWorker
from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import FollowUpLog, FollowUpTask, Recording, RecordingStatus
from callcenter.services import campaign_control
from tests.e2e.conftest import sign_in
from tests.e2e.world import campaign_for, patient_with_record
from tests.integration.telephony.conftest import ALWAYS, PatientScript, make_trunk, wait_for
from worker import context

pytestmark = pytest.mark.e2e

# The patient's side: a real FreeSWITCH recording of "... Please press one to confirm your
# appointment or to speak with a nurse. ... Thank you. Good bye."
SPEECH = str(
    Path(__file__).resolve().parents[1] / "data/freeswitch-wire/recordings/mono_8k_followup.wav"
)


def highlighted(page) -> list[str]:
    return page.eval_on_selector_all(".w.current", "els => els.map(e => e.textContent)")


def test_a_call_is_taken_saved_replayed_and_found(
    app, users, switchboard, live_server, open_page, screens
):
    app.config["TRANSCRIBE_ENGINE"] = "zh=vosk,en=whisper"  # the packaged English model
    switchboard.start_daemon()
    campaign = campaign_for(
        [users.agent], make_trunk().id, calling_windows=ALWAYS, wrap_up_seconds=0
    )
    patient = patient_with_record("Grace Lin", "+8613900139011", tag_names=("高血压",))
    patient.language = "en"
    switchboard.sim.script(
        "+8613900139011", PatientScript(ring_seconds=0.5, speech_wav=SPEECH, hangup_after=40)
    )
    db.session.add(FollowUpTask(campaign_id=campaign.id, patient_id=patient.id))
    db.session.commit()

    # The agent takes the call and saves the follow-up.
    desk = open_page("en-US")
    sign_in(desk, live_server.url, "agent")
    desk.goto(f"{live_server.url}/desk")
    desk.wait_for_function("window.ccDesk && window.ccDesk.connected")
    desk.click("#presence button:has-text('Ready')")
    campaign_control.control(db.session, users.supervisor, campaign.id, "start")
    db.session.commit()
    pop = desk.wait_for_selector(".pop[data-call-id]", timeout=30_000)
    call_id = pop.get_attribute("data-call-id")
    assert "Grace Lin" in desk.inner_text(".pop")
    desk.select_option("select[name=disposition]", "reached")
    desk.fill("textarea[name=notes]", "Confirmed the appointment.")
    desk.click(".log-form button[type=submit]")
    desk.wait_for_selector(".log-saved")

    # Nobody touches the recording: the daemon queued its job, a worker runs it.
    recording_id = wait_for(
        lambda: db.session.scalar(select(Recording.id).where(Recording.call_attempt_id == call_id)),
        timeout=60,
        what="the call's recording",
    )
    jobs = app.extensions["callcenter.jobs"]
    context.use_app(app)
    try:
        SimpleWorker([jobs.queue("recordings")], connection=jobs.connection).work(burst=True)
    finally:
        context.use_app(None)
    db.session.expire_all()
    recording = db.session.get(Recording, recording_id)
    assert recording.status is RecordingStatus.READY, recording.failure_reason
    log = db.session.scalar(select(FollowUpLog).where(FollowUpLog.call_attempt_id == call_id))
    assert log.recording_id == recording.id

    # A supervisor plays it; the highlighted words move with the audio.
    player = open_page("en-US")
    sign_in(player, live_server.url, "supervisor")
    player.goto(f"{live_server.url}/recordings/{recording.id}")
    player.wait_for_selector(".segment .w")
    player.click("button[data-action=toggle]")
    player.wait_for_function("() => document.getElementById('player-audio').currentTime > 1.5")
    early = highlighted(player)
    player.wait_for_function("() => document.getElementById('player-audio').currentTime > 5")
    later = highlighted(player)
    assert early and later and early != later
    screens.save(player, "player-of-the-call")

    # QA finds a phrase the patient said and lands at its moment, but cannot play it.
    qa = open_page("en-US")
    sign_in(qa, live_server.url, "qa")
    qa.goto(f"{live_server.url}/qa/search")
    qa.fill("input[name=q]", "appointment")
    qa.keyboard.press("Enter")
    qa.wait_for_selector(".hit mark")
    assert qa.inner_text(".hit mark").lower() == "appointment"
    qa.click(".hit-link")
    qa.wait_for_url(f"**/qa/recordings/{recording.id}?t=*")
    moment = float(qa.url.rsplit("t=", 1)[1])
    assert 0 < moment < recording.duration_seconds
    current = qa.wait_for_selector(".segment[aria-current=true]")
    assert "appointment" in current.inner_text().lower()
    assert qa.goto(f"{live_server.url}/recordings/{recording.id}").status == 403
    for page in (desk, player, qa):
        assert page.errors == []
