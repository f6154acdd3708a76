"""Patient imports: validate a whole file, then write all of it or none of it.

An import is an ``ImportJob`` row holding the file. ``run`` is the job body, safe to run again:
a finished job is left alone, and a job that crashed half-way rolled back with its transaction,
so running it again starts clean. The data and the job's success commit together.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from callcenter.errors import Conflict, NotFound
from callcenter.models import ImportFormat, ImportJob, ImportStatus, User, utcnow
from callcenter.services import audit
from callcenter.services.imports.csv_reader import read_csv
from callcenter.services.imports.fhir_reader import read_bundle
from callcenter.services.imports.records import ErrorList
from callcenter.services.imports.writer import Defaults, write_records

log = logging.getLogger(__name__)
JOB_FUNCTION = "worker.jobs.run_import"
FINISHED = frozenset({ImportStatus.SUCCEEDED, ImportStatus.REJECTED})


@dataclass(frozen=True)
class ImportSettings:
    region: str
    timezone: str
    language: str
    fhir_card_system: str = ""

    @classmethod
    def from_config(cls, config) -> ImportSettings:
        return cls(
            region=config["DEFAULT_REGION"],
            timezone=config["DEFAULT_TIMEZONE"],
            language=config["DEFAULT_LANGUAGE"],
            fhir_card_system=config.get("FHIR_CARD_SYSTEM", ""),
        )


def guess_format(filename: str, data: bytes) -> ImportFormat | None:
    name = filename.lower()
    if name.endswith((".csv", ".txt", ".tsv")):
        return ImportFormat.CSV
    if name.endswith(".json"):
        return ImportFormat.FHIR
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return ImportFormat.FHIR
    return None


def submit(
    session: Session, user: User | None, filename: str, data: bytes, fmt: ImportFormat
) -> ImportJob:
    job = ImportJob(
        format=fmt,
        filename=filename[:255],
        content=data,
        sha256=hashlib.sha256(data).hexdigest(),
        status=ImportStatus.QUEUED,
        created_by_id=user.id if user else None,
    )
    session.add(job)
    session.flush()
    return job


def get(session: Session, import_id: int) -> ImportJob:
    job = session.get(ImportJob, import_id)
    if job is None:
        raise NotFound(f"import {import_id} not found", {"import_id": import_id})
    return job


def requeue(session: Session, user: User, import_id: int) -> ImportJob:
    job = get(session, import_id)
    if job.status is not ImportStatus.FAILED:
        raise Conflict(f"import {import_id} is {job.status}; only failed imports are retried")
    job.status = ImportStatus.QUEUED
    job.failure_reason = None
    return job


def enqueue(jobs, import_id: int):
    """Put the import on the ``imports`` queue; a second call while it waits adds nothing."""
    return jobs.enqueue(
        JOB_FUNCTION, import_id, queue="imports", job_id=f"import-{import_id}", timeout=1800
    )


def _read(job: ImportJob, data: bytes, settings: ImportSettings):
    if job.format is ImportFormat.CSV:
        return read_csv(data, region=settings.region)
    return read_bundle(
        data,
        region=settings.region,
        default_timezone=settings.timezone,
        card_system=settings.fhir_card_system,
    )


def run(session: Session, import_id: int, settings: ImportSettings) -> ImportJob:
    """Validate and apply one import. Returns the job in its final state."""
    job = get(session, import_id)
    if job.status in FINISHED:
        log.info("import %s already %s; nothing to do", import_id, job.status)
        return job
    job.status = ImportStatus.RUNNING
    session.commit()

    records, errors = _read(job, job.content, settings)
    if errors:
        return _reject(session, job, errors)

    summary = write_records(session, records, Defaults(settings.timezone, settings.language))
    job.status = ImportStatus.SUCCEEDED
    job.summary = {"rows": len(records), **summary.as_dict()}
    job.errors = []
    job.finished_at = utcnow()
    actor = audit.Actor(job.created_by_id, _actor_name(session, job))
    audit.append(
        session,
        actor,
        "patients.import",
        "import_job",
        job.id,
        {"sha256": job.sha256, "format": str(job.format), **job.summary},
    )
    session.commit()  # the data and the job's success land together, or neither does
    log.info("import %s succeeded: %s", import_id, job.summary)
    return job


def _reject(session: Session, job: ImportJob, errors: ErrorList) -> ImportJob:
    session.rollback()
    job.status = ImportStatus.REJECTED
    job.errors = errors.as_dicts()
    job.summary = {"errors": errors.total, "errors_shown": len(errors.items)}
    job.finished_at = utcnow()
    session.commit()
    log.info("import %s rejected with %s errors", job.id, errors.total)
    return job


def mark_failed(session: Session, import_id: int, reason: str) -> None:
    """Record that the job broke (not the file): it stays retryable."""
    session.rollback()
    job = session.get(ImportJob, import_id)
    if job is not None and job.status not in FINISHED:
        job.status = ImportStatus.FAILED
        job.failure_reason = reason[:2000]
        session.commit()


def _actor_name(session: Session, job: ImportJob) -> str:
    if job.created_by_id is None:
        return audit.SYSTEM_ACTOR
    user = session.get(User, job.created_by_id)
    return user.username if user else audit.SYSTEM_ACTOR
