"""Imports through the API and a real RQ worker on Redis: queued, retried, idempotent."""

from __future__ import annotations

import io

import pytest
from rq import Retry, SimpleWorker
from sqlalchemy import func, select

from callcenter.extensions import db
from callcenter.models import ImportJob, ImportStatus, Patient
from callcenter.services import imports
from callcenter.services.imports import writer
from worker import context

CSV = "card_number,name,phone\nM1,王小明,13800138000\nM2,Mary Smith,+14155552671\n"


@pytest.fixture
def worker(app, redis_conn):
    """Run queued jobs in this process (SimpleWorker does not fork) inside the test's app."""
    context.use_app(app)
    jobs = app.extensions["callcenter.jobs"]

    def work() -> None:
        SimpleWorker([jobs.queue("imports")], connection=jobs.connection).work(burst=True)
        db.session.expire_all()

    yield work
    context.use_app(None)


def upload(client, users, body: str, name: str = "patients.csv"):
    return client.post(
        "/api/v1/imports",
        data={"file": (io.BytesIO(body.encode()), name)},
        headers=users.headers("supervisor"),
        content_type="multipart/form-data",
    )


def test_upload_is_queued_then_applied_by_the_worker(client, users, worker, redis_conn):
    response = upload(client, users, CSV)
    assert response.status_code == 202, response.json
    assert response.json["status"] == "queued"
    assert db.session.scalar(select(func.count(Patient.id))) == 0
    worker()
    status = client.get(
        f"/api/v1/imports/{response.json['id']}", headers=users.headers("supervisor")
    ).json
    assert status["status"] == "succeeded"
    assert status["summary"]["created"] == 2
    assert db.session.scalar(select(func.count(Patient.id))) == 2


def test_rejected_upload_reports_every_bad_row(client, users, worker):
    response = upload(client, users, CSV + "M3,坏,123\nM1,重复,13800138001\n")
    worker()
    status = client.get(
        f"/api/v1/imports/{response.json['id']}", headers=users.headers("supervisor")
    ).json
    assert status["status"] == "rejected"
    assert [(e["row"], e["column"]) for e in status["errors"]] == [
        (4, "C (phone)"),
        (5, "A (card_number)"),
    ]
    assert db.session.scalar(select(func.count(Patient.id))) == 0


def test_upload_without_a_recognisable_format_says_so(client, users):
    response = upload(client, users, CSV, name="patients.xlsx")
    assert response.status_code == 422
    assert response.json["details"] == {"field": "format"}


def test_enqueueing_twice_queues_one_job(app, redis_conn):
    job = imports.submit(
        db.session, None, "p.csv", CSV.encode(), imports.guess_format("p.csv", b"")
    )
    db.session.commit()
    jobs = app.extensions["callcenter.jobs"]
    first = imports.enqueue(jobs, job.id)
    second = imports.enqueue(jobs, job.id)
    assert first.id == second.id
    assert jobs.queue("imports").count == 1


def test_a_crash_mid_import_is_retried_and_completes(app, client, users, worker, monkeypatch):
    """The first attempt dies half-way through writing; nothing half-written survives it, and
    RQ's retry runs the job again to success."""
    real = writer._write_tags
    calls = {"n": 0}

    def crash_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(writer, "_write_tags", crash_once)
    response = upload(client, users, CSV)
    import_id = response.json["id"]
    # Replace the queued job with one that retries at once, so the test need not wait 10 s.
    jobs = app.extensions["callcenter.jobs"]
    jobs.queue("imports").empty()
    jobs.enqueue(imports.JOB_FUNCTION, import_id, queue="imports", retry=Retry(max=2))
    worker()
    job = db.session.get(ImportJob, import_id)
    assert calls["n"] == 2
    assert job.status is ImportStatus.SUCCEEDED
    assert job.summary["created"] == 2
    assert db.session.scalar(select(func.count(Patient.id))) == 2


def test_failed_import_is_visible_and_can_be_requeued(app, client, users, worker, monkeypatch):
    monkeypatch.setattr(
        writer, "_write_tags", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk full"))
    )
    response = upload(client, users, CSV)
    jobs = app.extensions["callcenter.jobs"]
    jobs.queue("imports").empty()
    jobs.enqueue(imports.JOB_FUNCTION, response.json["id"], queue="imports", retry=None)
    worker()
    url = f"/api/v1/imports/{response.json['id']}"
    status = client.get(url, headers=users.headers("supervisor")).json
    assert status["status"] == "failed"
    assert status["failure_reason"] == "RuntimeError: disk full"
    assert db.session.scalar(select(func.count(Patient.id))) == 0

    monkeypatch.undo()
    retried = client.post(f"{url}/retry", headers=users.headers("supervisor"))
    assert retried.status_code == 202 and retried.json["status"] == "queued"
    worker()
    assert client.get(url, headers=users.headers("supervisor")).json["status"] == "succeeded"


def test_running_a_finished_import_again_does_nothing(app):
    job = imports.submit(
        db.session, None, "p.csv", CSV.encode(), imports.guess_format("p.csv", b"")
    )
    db.session.commit()
    settings = imports.ImportSettings("CN", "Asia/Shanghai", "zh")
    first = imports.run(db.session, job.id, settings)
    summary = dict(first.summary)
    again = imports.run(db.session, job.id, settings)
    assert again.summary == summary and again.status is ImportStatus.SUCCEEDED
