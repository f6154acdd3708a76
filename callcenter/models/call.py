"""Call attempts, their recordings and the transcript segments made from them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.models.base import Base, StrEnum, enum_type, json_type, utcnow


def new_call_id() -> str:
    return str(uuid.uuid4())


class CallDirection(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class CallStatus(StrEnum):
    QUEUED = "queued"  # decided, command not yet sent
    DIALING = "dialing"
    ANSWERED = "answered"
    BRIDGED = "bridged"
    ENDED = "ended"


ACTIVE_CALL_STATUSES = (
    CallStatus.QUEUED,
    CallStatus.DIALING,
    CallStatus.ANSWERED,
    CallStatus.BRIDGED,
)


class CallAttempt(Base):
    """One dial; its id is the FreeSWITCH ``origination_uuid`` so a retried command never
    dials twice."""

    __tablename__ = "call_attempts"
    __table_args__ = (
        Index("ix_call_attempts_started", "started_at"),
        Index("ix_call_attempts_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_call_id)
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("followup_tasks.id", ondelete="SET NULL"), index=True
    )
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )
    patient_id: Mapped[int | None] = mapped_column(
        ForeignKey("patients.id", ondelete="SET NULL"), index=True
    )
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    direction: Mapped[CallDirection] = mapped_column(
        enum_type(CallDirection), default=CallDirection.OUTBOUND
    )
    number: Mapped[str] = mapped_column(String(32))
    trunk_id: Mapped[int | None] = mapped_column(ForeignKey("trunks.id", ondelete="SET NULL"))
    node: Mapped[str] = mapped_column(String(64), default="fs1")
    status: Mapped[CallStatus] = mapped_column(enum_type(CallStatus), default=CallStatus.QUEUED)
    agent_leg_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    agent_answered_at: Mapped[datetime | None]
    # When each leg's originate completed (BACKGROUND_JOB +OK): only then may it be bridged.
    patient_up_at: Mapped[datetime | None]
    agent_up_at: Mapped[datetime | None]
    recording_path: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]
    bridged_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    hangup_cause: Mapped[str | None] = mapped_column(String(64))
    billsec: Mapped[int | None]


class RecordingStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class Recording(Base):
    __tablename__ = "recordings"
    __table_args__ = (Index("ix_recordings_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_attempt_id: Mapped[str] = mapped_column(
        ForeignKey("call_attempts.id", ondelete="CASCADE"), index=True
    )
    source_path: Mapped[str] = mapped_column(Text)
    storage_key: Mapped[str | None] = mapped_column(Text)
    status: Mapped[RecordingStatus] = mapped_column(
        enum_type(RecordingStatus), default=RecordingStatus.PENDING
    )
    failure_reason: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    channels: Mapped[int | None]
    sample_rate: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Encrypted at rest (recordings/crypto.py): which key, and the sizes of both forms.
    key_id: Mapped[str | None] = mapped_column(String(32))
    plain_size: Mapped[int | None] = mapped_column(BigInteger)
    stored_size: Mapped[int | None] = mapped_column(BigInteger)
    # Where the job is (stored, transcribed, indexed), for the UI while it runs.
    stage: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    peaks: Mapped[dict | None] = mapped_column(json_type())  # waveform for the player
    transcribed_at: Mapped[datetime | None]

    call_attempt: Mapped[CallAttempt] = relationship()


class Speaker(StrEnum):
    PATIENT = "patient"
    CLINIC = "clinic"


class TranscriptSegment(Base):
    __tablename__ = "transcript_segments"
    __table_args__ = (Index("ix_transcript_segments_recording", "recording_id", "start_seconds"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"))
    speaker: Mapped[Speaker] = mapped_column(enum_type(Speaker))
    start_seconds: Mapped[float] = mapped_column(Float)
    end_seconds: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    words: Mapped[list] = mapped_column(json_type(), default=list)
    language: Mapped[str] = mapped_column(String(8))
    engine: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(120))
    # The words as search sees them (Mandarin segmented, lower case), written by
    # services.transcripts.index_segments together with the database's own search index.
    search_text: Mapped[str | None] = mapped_column(Text)


# Search index objects the migration makes by hand: on PostgreSQL a narrow table of tsvectors
# with the call's filter columns (services/transcripts.py writes it, services/transcript_search.py
# reads it), on SQLite an FTS5 table (and its shadow tables). Alembic can represent neither a
# tsvector nor FTS5, so autogenerate leaves them alone (see migrations/env.py).
TRANSCRIPT_SEARCH_OBJECTS = frozenset(
    {
        "transcript_search",
        "ix_transcript_search_vector",
        "ix_transcript_search_campaign",
        "ix_transcript_search_agent",
        "ix_transcript_search_patient",
        "ix_transcript_search_started",
        "transcript_fts",
        "transcript_fts_data",
        "transcript_fts_idx",
        "transcript_fts_content",
        "transcript_fts_docsize",
        "transcript_fts_config",
    }
)
