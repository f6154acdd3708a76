"""Import jobs: an uploaded file, its processing state and its per-row errors."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from callcenter.models.base import Base, StrEnum, enum_type, json_type, utcnow


class ImportFormat(StrEnum):
    CSV = "csv"
    FHIR = "fhir"


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    REJECTED = "rejected"  # the file had errors; nothing was written
    FAILED = "failed"  # the job itself broke; it can be retried


class ImportJob(Base):
    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    format: Mapped[ImportFormat] = mapped_column(enum_type(ImportFormat))
    filename: Mapped[str] = mapped_column(String(255))
    # The file lives in the database so any worker host can process it.
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[ImportStatus] = mapped_column(
        enum_type(ImportStatus), default=ImportStatus.QUEUED
    )
    errors: Mapped[list] = mapped_column(json_type(), default=list)
    summary: Mapped[dict] = mapped_column(json_type(), default=dict)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
