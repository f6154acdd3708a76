"""A recording's audio, decrypted on the fly with HTTP Range support, and its waveform peaks.

Only the chunks a range needs are read from the store and decrypted (recordings/crypto.py), so
seeking in an hour-long call costs one 64 KiB chunk, not the file. Responses are never cached
by the browser or a proxy: the audio is health data.
"""

from __future__ import annotations

import logging

from flask import Response, current_app, request
from flask_smorest import Blueprint

from callcenter.extensions import db
from callcenter.services import recording_access, recording_store
from callcenter.web.api.common import PREFIX
from callcenter.web.security import current, requires
from recordings import crypto

log = logging.getLogger(__name__)
blp = Blueprint(
    "recording_audio",
    __name__,
    url_prefix=PREFIX,
    description="Recordings' audio (Range requests, audited) and waveform peaks",
)
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _reader(recording) -> crypto.EncryptedReader:
    config = current_app.config
    return crypto.EncryptedReader(
        recording_store.recording_store(config),
        recording.storage_key,
        recording_store.keyring(config),
    )


@blp.route("/recordings/<int:recording_id>/audio")
@blp.doc(
    summary="Play or download a recording",
    description="WAV (patient left, clinic right). Honours one `Range: bytes=a-b`; "
    "`?download=1` asks for a file. Every play and download is written to the audit ledger.",
    responses={200: {"description": "audio/wav"}, 206: {"description": "a byte range"}},
)
@requires("recordings.play")
def recording_audio(recording_id: int):
    user = current()
    recording = recording_access.stored_recording(db.session, recording_id)
    download = request.args.get("download") in ("1", "true")
    try:
        reader = _reader(recording)
    except crypto.TamperedRecording as exc:
        return _tampered(user, recording, exc)
    size = reader.plain_size
    byte_range = request.range
    if byte_range is not None and (len(byte_range.ranges) != 1 or byte_range.units != "bytes"):
        byte_range = None  # several ranges at once: answer with the whole file, as RFC 9110 allows
    bounds = byte_range.range_for_length(size) if byte_range is not None else (0, size)
    if bounds is None or size == 0:
        return Response(status=416, headers={"Content-Range": f"bytes */{size}", **NO_STORE})
    start, stop = bounds
    try:
        first = reader.read_range(start, min(stop, start + 65536) - 1)  # fails before headers go
    except crypto.TamperedRecording as exc:
        return _tampered(user, recording, exc)
    recording_access.record_access(db.session, user, recording, download=download)
    db.session.commit()

    def body():
        yield first
        if start + len(first) < stop:
            try:
                yield from reader.iter_range(start + len(first), stop - 1)
            except crypto.TamperedRecording:
                log.exception("recording %s failed its check while streaming", recording_id)

    headers = {"Accept-Ranges": "bytes", "Content-Length": str(stop - start), **NO_STORE}
    if byte_range is not None:
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    if download:
        headers["Content-Disposition"] = f'attachment; filename="recording-{recording.id}.wav"'
    return Response(
        body(),  # needs no request context: the reader holds all it uses
        status=206 if byte_range is not None else 200,
        mimetype="audio/wav",
        headers=headers,
        direct_passthrough=True,
    )


def _tampered(user, recording, exc: Exception):
    log.error("recording %s failed its integrity check: %s", recording.id, exc)
    recording_access.record_tampering(db.session, user, recording, str(exc))
    db.session.commit()
    raise recording_access.RecordingTampered(
        f"recording {recording.id} failed its integrity check and is not served",
        {"detail": str(exc)},
    )


@blp.route("/recordings/<int:recording_id>/peaks")
@blp.doc(summary="Waveform peaks of a recording, per side (0..1), for the player")
@requires("recordings.play")
def recording_peaks(recording_id: int):
    recording = recording_access.stored_recording(db.session, recording_id)
    peaks = recording.peaks or {"patient": [], "clinic": [], "duration": 0.0}
    return {"recording_id": recording.id, **peaks}, 200, NO_STORE
