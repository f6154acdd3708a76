"""Job functions: take ids, are safe to run twice, and let RQ retry them on failure."""

from __future__ import annotations

import os

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
    """Store the call's recording encrypted, transcribe it per speaker and index it.

    Safe to run twice (each step is skipped once done; the transcript is replaced, not added
    to). A bad file or a missing model marks the recording failed with the reason and is not
    retried; anything else (an engine crash, the store away) is raised so RQ retries it.
    """
    from rq import get_current_job

    from callcenter.extensions import db
    from callcenter.services import recording_pipeline as pipeline

    with job_context("process_recording", recording_id) as log:
        job = get_current_job()

        def progress(stage: str) -> None:
            log.info("recording %s: %s", recording_id, stage)
            if job is not None:
                job.meta["stage"] = stage
                job.meta["pid"] = os.getpid()  # the work horse, for whoever watches or stops it
                job.save_meta()

        try:
            settings = pipeline.PipelineSettings.from_config(current_app.config)
            recording = pipeline.process(db.session, recording_id, settings, progress)
            return {"status": "ready", "sha256": recording.sha256, "stage": recording.stage}
        except pipeline.RecordingFailed as exc:
            log.warning("recording %s failed: %s", recording_id, exc)
            pipeline.fail(db.session, recording_id, str(exc))
            return {"status": "failed", "reason": str(exc)}
        except LookupError:
            raise  # the row is not committed yet: RQ tries again
        except Exception as exc:
            log.exception("recording %s: processing failed", recording_id)
            retrying = job is not None and (job.retries_left or 0) > 0
            reason = f"{type(exc).__name__}: {exc}" + (" (will be retried)" if retrying else "")
            pipeline.fail(db.session, recording_id, reason)
            raise
        finally:
            db.session.remove()
