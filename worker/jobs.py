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
