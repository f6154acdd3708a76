"""One Flask app per worker process, created on first use (never at import time)."""

from __future__ import annotations

import contextlib
import logging
import os

from flask import Flask

_app: Flask | None = None


def use_app(app: Flask | None) -> None:
    """Set the app jobs run in (the worker entry point and tests call this)."""
    global _app
    _app = app


def app() -> Flask:
    global _app
    if _app is None:
        from callcenter import create_app

        _app = create_app()
        os.register_at_fork(after_in_child=_forget_parent_connections)
    return _app


def _forget_parent_connections() -> None:
    """RQ forks a work horse per job; it must not share the parent's database sockets."""
    if _app is None:
        return
    from callcenter.extensions import db

    with _app.app_context():
        db.engine.dispose(close=False)


@contextlib.contextmanager
def job_context(job_name: str, *ids):
    """App context plus a logger that stamps every line with the RQ job id."""
    from rq import get_current_job

    job = get_current_job()
    job_id = job.id if job else "inline"
    logger = logging.LoggerAdapter(logging.getLogger(f"worker.{job_name}"), {"job_id": job_id})
    with app().app_context():
        logger.info("[%s] %s%s started", job_id, job_name, ids)
        yield logger
        logger.info("[%s] %s%s finished", job_id, job_name, ids)
