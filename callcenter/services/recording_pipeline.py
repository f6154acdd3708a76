"""A recorded call, from the switch's WAV file to an encrypted, transcribed, searchable record.

Three steps, each committed, each skipped when a re-run finds it done, so the job that runs
them is safe to repeat and to retry after a crash at any point:

1. **store**: check the WAV, encrypt it into the store, decrypt it back and compare the SHA-256
   before the plain file is removed; the hash goes into the audit ledger.
2. **transcribe**: decrypt to a private temporary file, split patient (left) and clinic (right),
   resample each to the rate the model reads from its own config, transcribe each side that has
   speech, and keep the waveform peaks for the player.
3. **index**: replace the recording's segments (a re-run leaves one transcript) and index them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session

from callcenter.models import (
    FollowUpLog,
    Patient,
    Recording,
    RecordingStatus,
    Speaker,
    TranscriptSegment,
    utcnow,
)
from callcenter.services import audit, recording_store, transcripts
from recordings import audio, crypto, storage, wavcheck
from recordings.keys import Keyring
from recordings.models import ModelMissing, model_path_for
from recordings.transcribe import engine_for, load_transcriber

log = logging.getLogger(__name__)
SPEECH_THRESHOLD_DBFS = -45.0  # a side quieter than this all through holds no speech


class RecordingFailed(Exception):
    """A recording that cannot be processed as it is (bad file, no model): not retried."""


@dataclass(frozen=True)
class PipelineSettings:
    store: storage.Store
    keyring: Keyring
    engine_setting: str
    default_language: str
    models: Mapping[str, object]

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> PipelineSettings:
        return cls(
            store=recording_store.recording_store(config),
            keyring=recording_store.keyring(config),
            engine_setting=str(config.get("TRANSCRIBE_ENGINE", "vosk")),
            default_language=str(config.get("DEFAULT_LANGUAGE", "zh")),
            models=dict(config),
        )


def storage_key(recording: Recording) -> str:
    day = recording.created_at.strftime("%Y/%m/%d")
    return f"recordings/{day}/{recording.call_attempt_id}-{recording.id}.wav.enc"


Progress = Callable[[str], None]


def process(
    session: Session, recording_id: int, settings: PipelineSettings, progress: Progress
) -> Recording:
    """Run whatever steps the recording still needs; raise RecordingFailed for a bad one."""
    recording = session.get(Recording, recording_id)
    if recording is None:
        raise LookupError(f"recording {recording_id} does not exist (yet)")
    if recording.status is RecordingStatus.READY:
        return recording
    recording.status, recording.failure_reason = RecordingStatus.PROCESSING, None
    session.commit()
    if recording.storage_key is None:
        progress("storing")
        store(session, recording, settings)
    progress("transcribing")
    segments = transcribe(session, recording, settings)
    progress("indexing")
    transcripts.replace_segments(session, recording.id, segments)
    recording.status, recording.stage = RecordingStatus.READY, "indexed"
    recording.transcribed_at = utcnow()
    session.commit()
    return recording


def fail(session: Session, recording_id: int, reason: str) -> None:
    session.rollback()
    session.execute(
        update(Recording)
        .where(Recording.id == recording_id)
        .values(status=RecordingStatus.FAILED, failure_reason=reason[:2000])
    )
    session.commit()


# --- 1. store ------------------------------------------------------------------------------


def store(session: Session, recording: Recording, settings: PipelineSettings) -> None:
    try:
        info = wavcheck.inspect(recording.source_path)
    except wavcheck.BadRecording as exc:
        raise RecordingFailed(str(exc)) from exc
    key = storage_key(recording)
    encrypted = crypto.encrypt_file(recording.source_path, settings.store, key, settings.keyring)
    # Proven readable with the key before the only plain copy goes.
    crypto.verify(settings.store, key, settings.keyring, info.sha256)
    recording.storage_key, recording.key_id = key, encrypted.key_id
    recording.sha256, recording.plain_size = info.sha256, encrypted.plain_size
    recording.stored_size = encrypted.stored_size
    recording.channels, recording.sample_rate = info.channels, info.sample_rate
    recording.duration_seconds, recording.stage = info.duration, "stored"
    link_follow_up_logs(session, recording)
    audit.append(
        session,
        audit.Actor(None, "worker"),
        "recording.stored",
        "recording",
        recording.id,
        {"sha256": info.sha256, "key_id": encrypted.key_id, "storage_key": key},
    )
    session.commit()
    with contextlib.suppress(FileNotFoundError):  # a re-run after the removal
        os.remove(recording.source_path)


def link_follow_up_logs(session: Session, recording: Recording) -> None:
    """A log the agent saved before the recording existed now points at it."""
    session.execute(
        update(FollowUpLog)
        .where(
            FollowUpLog.call_attempt_id == recording.call_attempt_id,
            FollowUpLog.recording_id.is_(None),
        )
        .values(recording_id=recording.id)
    )


def verify_stored(session: Session, recording: Recording, settings: PipelineSettings) -> None:
    """Prove the stored file is the one the switch wrote (crypto.TamperedRecording if not)."""
    crypto.verify(settings.store, recording.storage_key, settings.keyring, recording.sha256)


# --- 2. transcribe -------------------------------------------------------------------------


def language_of(session: Session, recording: Recording, default: str) -> str:
    call = recording.call_attempt
    patient = session.get(Patient, call.patient_id) if call and call.patient_id else None
    return (patient.language if patient and patient.language else default) or "zh"


def transcribe(
    session: Session, recording: Recording, settings: PipelineSettings
) -> list[TranscriptSegment]:
    language = language_of(session, recording, settings.default_language)
    try:
        engine = engine_for(settings.engine_setting, language)
        model_path = model_path_for(engine, language, settings.models)
        transcriber = load_transcriber(engine, model_path, language)  # once per process
    except (ModelMissing, ValueError) as exc:  # no model, or none for this language
        raise RecordingFailed(f"stored, not transcribed: {exc}") from exc
    with tempfile.TemporaryDirectory(prefix="recording-") as folder:
        plain = Path(folder) / "call.wav"
        crypto.decrypt_to_path(settings.store, recording.storage_key, settings.keyring, plain)
        try:
            sides = audio.split_channels(plain)
            recording.peaks = audio.peaks(plain)
        except audio.BadAudio as exc:
            raise RecordingFailed(str(exc)) from exc
    # A mono file cannot be told apart by side: it is transcribed once, as the clinic's mix.
    speakers = (
        [(Speaker.CLINIC, sides.clinic)]
        if sides.mixed
        else [
            (Speaker.PATIENT, sides.patient),
            (Speaker.CLINIC, sides.clinic),
        ]
    )
    segments: list[TranscriptSegment] = []
    for speaker, side in speakers:
        if not audio.has_speech(side, SPEECH_THRESHOLD_DBFS):
            continue
        pcm = audio.to_pcm16_mono(side, transcriber.sample_rate)
        for piece in transcriber.transcribe(pcm, language):
            segments.append(
                TranscriptSegment(
                    speaker=speaker,
                    start_seconds=piece.start,
                    end_seconds=piece.end,
                    text=piece.text,
                    words=[
                        {"text": w.text, "start": w.start, "end": w.end, "confidence": w.confidence}
                        for w in piece.words
                    ],
                    language=piece.language,
                    engine=piece.engine,
                    model=piece.model,
                )
            )
    segments.sort(key=lambda s: (s.start_seconds, s.speaker))
    recording.language, recording.stage = language, "transcribed"
    return segments
