"""The recording check job: a good file is hashed into the ledger, a bad one says why."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import AuditEntry, CallAttempt, Recording, RecordingStatus
from worker import context, jobs

STEREO = (
    Path(__file__).parent.parent
    / "data"
    / "freeswitch-wire"
    / "recordings"
    / "stereo_8k_followup.wav"
)


def recording_of(path: Path) -> Recording:
    call = CallAttempt(number="+8613800138000")
    db.session.add(call)
    db.session.flush()
    recording = Recording(call_attempt_id=call.id, source_path=str(path))
    db.session.add(recording)
    db.session.commit()
    return recording


def run(app, recording_id: int) -> dict:
    context.use_app(app)
    try:
        return jobs.process_recording(recording_id)
    finally:
        context.use_app(None)
        db.session.expire_all()  # the job worked in its own session


def test_a_good_recording_is_checked_and_its_hash_audited(app, tmp_path):
    path = tmp_path / "call.wav"
    shutil.copy(STEREO, path)
    recording = recording_of(path)
    assert run(app, recording.id)["status"] == "ready"
    stored = db.session.get(Recording, recording.id)
    assert stored.status is RecordingStatus.READY
    assert stored.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (stored.channels, stored.sample_rate) == (2, 8000) and stored.duration_seconds > 1
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "recording.stored"))
    assert entry.details["sha256"] == stored.sha256
    assert run(app, recording.id)["status"] == "ready"  # running it twice changes nothing
    assert (
        len(
            db.session.scalars(
                select(AuditEntry).where(AuditEntry.action == "recording.stored")
            ).all()
        )
        == 1
    )


def test_truncated_empty_and_missing_files_fail_with_a_reason(app, tmp_path):
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(STEREO.read_bytes()[:5000])
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    reasons = {}
    for path in (truncated, empty, tmp_path / "missing.wav"):
        recording = recording_of(path)
        assert run(app, recording.id)["status"] == "failed"
        stored = db.session.get(Recording, recording.id)
        assert stored.status is RecordingStatus.FAILED
        reasons[path.name] = stored.failure_reason
    assert "truncated" in reasons["truncated.wav"]
    assert "empty" in reasons["empty.wav"]
    assert "does not exist" in reasons["missing.wav"]
