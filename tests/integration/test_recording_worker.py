"""The recording job under a real RQ worker: a crash is retried, a killed work horse too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import psutil
import pytest
from rq import Retry, SimpleWorker
from rq.job import Job

from callcenter.extensions import db
from callcenter.jobs import RECORDING_JOB
from callcenter.models import Recording, RecordingStatus, TranscriptSegment
from callcenter.services import recording_pipeline
from tests.conftest import TEST_REDIS_URL
from tests.integration.test_recording_job import STEREO, recording_of
from worker import context

ROOT = Path(__file__).resolve().parents[2]


def long_call(path: Path, repeats: int) -> Path:
    """The switch's stereo recording said ``repeats`` times over: long enough to kill mid-way."""
    with wave.open(str(STEREO), "rb") as source:
        params, frames = source.getparams(), source.readframes(source.getnframes())
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        out.writeframes(frames * repeats)
    return path


def enqueue(app, recording_id: int, retry: Retry):
    jobs = app.extensions["callcenter.jobs"]
    return jobs.enqueue(
        RECORDING_JOB,
        recording_id,
        queue="recordings",
        job_id=f"recording-{recording_id}",
        retry=retry,
        timeout=600,
    )


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def status_of(recording_id: int) -> RecordingStatus:
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(Recording, recording_id).status


def test_a_crash_mid_job_is_retried_and_completes(app, tmp_path, monkeypatch, redis_conn):
    recording = recording_of(long_call(tmp_path / "call.wav", 1))
    real_transcribe = recording_pipeline.transcribe
    crashes = []

    def crash_once(*args, **kwargs):
        if not crashes:
            crashes.append("boom")
            raise RuntimeError("the engine crashed")
        return real_transcribe(*args, **kwargs)

    monkeypatch.setattr(recording_pipeline, "transcribe", crash_once)
    job = enqueue(app, recording.id, Retry(max=2))
    context.use_app(app)
    try:
        jobs = app.extensions["callcenter.jobs"]
        SimpleWorker([jobs.queue("recordings")], connection=jobs.connection).work(burst=True)
    finally:
        context.use_app(None)

    assert crashes == ["boom"]
    assert status_of(recording.id) is RecordingStatus.READY
    assert job.get_status(refresh=True) == "finished"
    segments = db.session.query(TranscriptSegment).filter_by(recording_id=recording.id).count()
    assert segments > 0


@pytest.mark.slow
def test_a_work_horse_killed_mid_transcription_is_retried_and_completes(app, tmp_path, redis_conn):
    recording = recording_of(long_call(tmp_path / "call.wav", 8))  # ~86 s of audio
    env = {
        **os.environ,
        "APP_ENV": "test",
        "FLASK_APP": "callcenter",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": TEST_REDIS_URL,
        **{
            name: str(app.config[name])
            for name in (
                "RECORDING_KEYS",
                "RECORDINGS_STORE_DIR",
                "RECORDINGS_DIR",
                "VOSK_MODEL_ZH",
                "VOSK_MODEL_EN",
            )
        },
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "worker", "run", "--queue", "recordings"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        job = enqueue(app, recording.id, Retry(max=3, interval=1))

        def transcribing():
            meta = Job.fetch(job.id, connection=redis_conn).meta
            return meta.get("pid") if meta.get("stage") == "transcribing" else None

        horse = wait_until(transcribing, 60, f"the job to start transcribing; {log_path}")
        assert horse in {child.pid for child in psutil.Process(worker.pid).children()}
        os.kill(horse, signal.SIGKILL)

        wait_until(
            lambda: status_of(recording.id) is RecordingStatus.READY,
            180,
            f"the retried job to finish; {log_path}",
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)

    stored = db.session.get(Recording, recording.id)
    assert stored.failure_reason is None and stored.stage == "indexed"
    assert Job.fetch(job.id, connection=redis_conn).retries_left == 2  # one retry was used
    assert log_path.read_text().count("process_recording(") >= 2  # started twice
    segments = db.session.query(TranscriptSegment).filter_by(recording_id=recording.id).count()
    assert segments > 0
