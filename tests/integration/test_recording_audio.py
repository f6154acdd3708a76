"""Streaming a recording: decrypted byte ranges, who may listen, and the ledger's record of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callcenter.extensions import db
from callcenter.models import AuditEntry, Recording
from callcenter.services import recording_pipeline
from tests.integration.test_recording_job import STEREO, recording_of


@pytest.fixture
def stored(app, tmp_path) -> tuple[Recording, bytes]:
    """A recording stored encrypted (not transcribed: playing does not need it)."""
    path = Path(shutil.copy(STEREO, tmp_path / "call.wav"))
    original = path.read_bytes()
    recording = recording_of(path)
    settings = recording_pipeline.PipelineSettings.from_config(app.config)
    recording_pipeline.store(db.session, recording, settings)
    return recording, original


def audio(client, users, recording_id: int, who: str = "supervisor", **headers):
    return client.get(
        f"/api/v1/recordings/{recording_id}/audio", headers={**users.headers(who), **headers}
    )


def entries(action: str) -> int:
    return db.session.scalar(select(func.count()).where(AuditEntry.action == action))


def test_the_whole_file_and_byte_ranges_are_the_original_bytes(client, users, stored):
    recording, original = stored
    whole = audio(client, users, recording.id)
    assert whole.status_code == 200 and whole.data == original
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Cache-Control"] == "no-store"
    assert whole.mimetype == "audio/wav"

    size = len(original)
    for header, start, stop in [
        ("bytes=100-199", 100, 200),
        ("bytes=0-0", 0, 1),
        (f"bytes={size - 1}-", size - 1, size),
        ("bytes=65530-200000", 65530, 200001),  # across chunk boundaries
        ("bytes=-500", size - 500, size),
        ("bytes=150000-", 150000, size),
    ]:
        part = audio(client, users, recording.id, Range=header)
        assert part.status_code == 206, header
        assert part.data == original[start:stop], header
        assert part.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{size}"
        assert int(part.headers["Content-Length"]) == stop - start


def test_a_range_past_the_end_is_refused_with_the_size(client, users, stored):
    recording, original = stored
    refused = audio(client, users, recording.id, Range=f"bytes={len(original) + 10}-")
    assert refused.status_code == 416
    assert refused.headers["Content-Range"] == f"bytes */{len(original)}"


def test_plays_are_audited_once_per_listening_and_downloads_always(client, users, stored):
    recording, _ = stored
    for header in ("bytes=0-", "bytes=5000-", "bytes=90000-"):  # one play: start and two seeks
        assert audio(client, users, recording.id, Range=header).status_code == 206
    assert entries("recording.played") == 1
    played = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "recording.played"))
    assert played.actor_id == users.supervisor.id
    assert played.object_id == str(recording.id) and played.details["sha256"]
    audio(client, users, recording.id, "admin")  # someone else listening: their own entry
    assert entries("recording.played") == 2

    for _ in range(2):
        download = client.get(
            f"/api/v1/recordings/{recording.id}/audio?download=1",
            headers=users.headers("supervisor"),
        )
        assert download.status_code == 200
        assert "attachment" in download.headers["Content-Disposition"]
    assert entries("recording.downloaded") == 2


@pytest.mark.parametrize("who", ["qa", "agent"])
def test_qa_and_agents_cannot_listen_and_the_refusal_is_audited(client, users, stored, who):
    recording, _ = stored
    assert audio(client, users, recording.id, who).status_code == 403
    assert entries("access.denied") == 1
    assert entries("recording.played") == 0


def test_a_tampered_recording_is_not_served_and_says_so(app, client, users, stored):
    recording, original = stored
    file = Path(app.config["RECORDINGS_STORE_DIR"]) / recording.storage_key
    data = bytearray(file.read_bytes())
    data[200] ^= 0xFF  # inside the first chunk
    file.write_bytes(bytes(data))

    response = audio(client, users, recording.id)

    assert response.status_code == 500
    assert response.json["error_id"] == "recording-integrity-failed"
    assert original[44:2000] not in response.data
    assert entries("recording.integrity_failed") == 1


def test_a_recording_not_stored_yet_cannot_be_played(client, users, tmp_path):
    recording = recording_of(tmp_path / "not-there.wav")
    response = audio(client, users, recording.id)
    assert response.status_code == 409 and response.json["error_id"] == "recording-unavailable"
    assert audio(client, users, 999999).status_code == 404


def test_peaks_give_both_sides_for_the_player(app, client, users, stored):
    recording, _ = stored
    recording = db.session.get(Recording, recording.id)
    recording.peaks = {"patient": [0.5, 0.25], "clinic": [0.0, 0.1], "duration": 10.76}
    db.session.commit()
    peaks = client.get(
        f"/api/v1/recordings/{recording.id}/peaks", headers=users.headers("supervisor")
    )
    assert peaks.status_code == 200
    assert peaks.json["patient"] == [0.5, 0.25] and peaks.json["duration"] == 10.76
    denied = client.get(f"/api/v1/recordings/{recording.id}/peaks", headers=users.headers("qa"))
    assert denied.status_code == 403
