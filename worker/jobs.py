"""Job functions: take ids, are safe to run twice, and let RQ retry them on failure."""

from __future__ import annotations

from flask import current_app

from worker.context import job_context


def run_import(import_id: int) -> dict:
    from callcenter.extensions import db
    from callcenter.services import imports

    with job_context("run_import", import_id) as log:
        settings = imports.ImportSettings.from_config(current_app.config)
        try:
            job = imports.run(db.session, import_id, settings)
        except Exception as exc:
            log.exception("import %s failed", import_id)
            imports.mark_failed(db.session, import_id, f"{type(exc).__name__}: {exc}")
            raise  # RQ retries per the job's Retry policy
        finally:
            db.session.remove()
        return {"status": str(job.status), "summary": job.summary}


def process_recording(recording_id: int) -> dict:
    """Check the recording the switch wrote and record its hash (safe to run twice).

    Encryption, channel split and transcription come with the recordings work; this step
    already makes a bad file visible with its reason and puts the file's hash in the ledger.
    """
    from callcenter.extensions import db
    from callcenter.models import Recording, RecordingStatus
    from callcenter.services import audit
    from recordings import wavcheck

    with job_context("process_recording", recording_id) as log:
        try:
            recording = db.session.get(Recording, recording_id)
            if recording is None:
                raise LookupError(f"recording {recording_id} does not exist (yet)")
            if recording.status is RecordingStatus.READY:
                return {"status": "ready", "sha256": recording.sha256}
            try:
                info = wavcheck.inspect(recording.source_path)
            except wavcheck.BadRecording as exc:
                recording.status = RecordingStatus.FAILED
                recording.failure_reason = str(exc)
                db.session.commit()
                log.warning("recording %s failed: %s", recording_id, exc)
                return {"status": "failed", "reason": str(exc)}
            recording.sha256 = info.sha256
            recording.channels = info.channels
            recording.sample_rate = info.sample_rate
            recording.duration_seconds = info.duration
            recording.status = RecordingStatus.READY
            audit.append(
                db.session,
                audit.Actor(None, "worker"),
                "recording.stored",
                "recording",
                recording.id,
                {"sha256": info.sha256},
            )
            db.session.commit()
            return {"status": "ready", "sha256": info.sha256}
        finally:
            db.session.remove()
