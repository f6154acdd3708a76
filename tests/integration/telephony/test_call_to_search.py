"""A call the simulator records ends; untouched, it becomes stored, transcribed, searchable.

The whole path of issue 4's "done when": the daemon creates the recording row on RECORD_STOP and
enqueues the job; a real RQ worker runs it; QA finds a phrase the patient said and lands at its
time; a supervisor streams the audio.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from rq import SimpleWorker
from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import CampaignStatus, Recording, RecordingStatus, TaskState
from tests import factories
from tests.integration.telephony.conftest import (
    PatientScript,
    make_campaign,
    make_trunk,
    ready,
    wait_for,
)
from worker import context

SAID = "please take your blood pressure medicine every morning"


def english_speech(folder: Path) -> str:
    """The patient's words as the switch plays them: 8 kHz mono 16-bit."""
    raw, wav = folder / "said.raw.wav", folder / "said.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), SAID], check=True)
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(raw), "-ar", "8000", "-ac", "1", str(wav)],
        check=True,
    )
    return str(wav)


def test_a_recorded_call_is_stored_transcribed_and_found_by_a_phrase(
    switchboard, app, client, users, tmp_path
):
    app.config["TRANSCRIBE_ENGINE"] = "zh=vosk,en=whisper"
    number = "+8613800000091"
    switchboard.sim.script(
        number,
        PatientScript("answer", speech_wav=english_speech(tmp_path), hangup_after=8.0),
    )
    patient = factories.patient("Mary Chen", phone=number, consent_call=True, language="en")
    campaign = make_campaign(make_trunk(), agents=[users.agent])
    task = factories.task(campaign, patient)
    ready(users.agent)
    switchboard.start_daemon()
    campaign.status = CampaignStatus.RUNNING
    db.session.commit()

    wait_for(
        lambda: db.session.get(factories.FollowUpTask, task.id).state is TaskState.COMPLETED,
        timeout=60,
        what="the call to end",
    )
    recording = wait_for(lambda: db.session.scalar(select(Recording)), what="the recording row")
    jobs = app.extensions["callcenter.jobs"]
    context.use_app(app)
    try:  # nobody enqueues anything here: the daemon did on RECORD_STOP
        SimpleWorker([jobs.queue("recordings")], connection=jobs.connection).work(burst=True)
    finally:
        context.use_app(None)
    db.session.expire_all()
    recording = db.session.get(Recording, recording.id)
    assert recording.status is RecordingStatus.READY, recording.failure_reason
    assert not Path(recording.source_path).exists()  # only the encrypted copy remains

    transcript = client.get(
        f"/api/v1/recordings/{recording.id}/transcript", headers=users.headers("qa")
    )
    assert transcript.status_code == 200
    assert {s["speaker"] for s in transcript.json["segments"]} == {"patient"}

    found = client.get(
        "/api/v1/transcripts/search",
        query_string={"q": '"blood pressure"', "campaign_id": campaign.id},
        headers=users.headers("qa"),
    )
    assert found.status_code == 200
    hits = found.json["items"]
    assert [h["recording_id"] for h in hits] == [recording.id]
    assert "<mark>blood</mark>" in hits[0]["snippet"].lower()
    assert 0 < hits[0]["offset_seconds"] < recording.duration_seconds

    audio = client.get(
        f"/api/v1/recordings/{recording.id}/audio",
        headers={**users.headers("supervisor"), "Range": "bytes=0-43"},
    )
    assert audio.status_code == 206 and audio.data.startswith(b"RIFF")
