"""Transcripts and their recordings: index segments for search, read them (audited), re-queue.

The worker calls ``index_segments`` after it saves a recording's segments; the web reads
transcripts and lists failed recordings through the other functions here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from callcenter.errors import Conflict, NotFound
from callcenter.jobs import RECORDING_JOB, recording_job_timeout
from callcenter.models import Recording, RecordingStatus, TranscriptSegment, User
from callcenter.services import audit, authz
from callcenter.services.masking import mask_identifiers
from callcenter.services.transcript_text import analyze, tsvector_literal

# PostgreSQL keeps the vectors in a narrow table with the call's filter columns copied in (a
# call's campaign, agent, patient and start are settled before its recording is indexed);
# deleting a segment deletes its row (foreign key, ON DELETE CASCADE).
_PG_UPSERT_VECTOR = text(
    "INSERT INTO transcript_search (segment_id, search_vector, campaign_id, agent_id, patient_id,"
    " started_at, speaker)"
    " SELECT s.id, CAST(:vector AS tsvector), c.campaign_id, c.agent_id, c.patient_id,"
    " c.started_at, s.speaker"
    " FROM transcript_segments s JOIN recordings r ON r.id = s.recording_id"
    " JOIN call_attempts c ON c.id = r.call_attempt_id WHERE s.id = :id"
    " ON CONFLICT (segment_id) DO UPDATE SET search_vector = EXCLUDED.search_vector,"
    " campaign_id = EXCLUDED.campaign_id, agent_id = EXCLUDED.agent_id,"
    " patient_id = EXCLUDED.patient_id, started_at = EXCLUDED.started_at,"
    " speaker = EXCLUDED.speaker"
)
_FTS_DELETE = text("DELETE FROM transcript_fts WHERE rowid = :id")
_FTS_INSERT = text(
    "INSERT INTO transcript_fts (rowid, body, subwords) VALUES (:id, :body, :subwords)"
)
# Segments deleted with their recording leave FTS rows behind on SQLite; a search joins to
# transcript_segments so they never show, and a reused id has its stale row replaced.


def index_segments(session: Session, recording_id: int) -> int:
    """Write the search text and index entries of every segment of a recording; return count.

    Safe to run twice: each segment's entry is replaced, not added again.
    """
    segments = session.scalars(
        select(TranscriptSegment).where(TranscriptSegment.recording_id == recording_id)
    ).all()
    dialect = session.get_bind().dialect.name
    vectors, entries = [], []
    for segment in segments:
        positions = analyze(segment.text or "")
        segment.search_text = " ".join(p[0] for p in positions)
        vectors.append({"vector": tsvector_literal(positions), "id": segment.id})
        subwords = " ".join(w for p in positions for w in p[1:])
        entries.append({"id": segment.id, "body": segment.search_text, "subwords": subwords})
    if dialect == "postgresql":
        if vectors:
            session.execute(_PG_UPSERT_VECTOR, vectors)
    else:
        if entries:
            session.execute(_FTS_DELETE, [{"id": e["id"]} for e in entries])
            session.execute(_FTS_INSERT, entries)
    session.flush()
    return len(segments)


def replace_segments(session: Session, recording_id: int, segments: list[TranscriptSegment]):
    """Swap a recording's segments for new ones and index them (a re-run leaves one copy)."""
    old_ids = session.scalars(
        select(TranscriptSegment.id).where(TranscriptSegment.recording_id == recording_id)
    ).all()
    session.execute(delete(TranscriptSegment).where(TranscriptSegment.recording_id == recording_id))
    if old_ids and session.get_bind().dialect.name == "sqlite":
        session.execute(_FTS_DELETE, [{"id": i} for i in old_ids])
    for segment in segments:
        segment.recording_id = recording_id
        session.add(segment)
    session.flush()
    return index_segments(session, recording_id)


@dataclass(frozen=True)
class Transcript:
    recording: Recording
    segments: list[dict]


def read_transcript(session: Session, user: User, recording_id: int) -> Transcript:
    """Return a recording's segments with timed words; the read goes into the audit ledger."""
    authz.require(user, "transcripts.read")
    recording = session.get(Recording, recording_id)
    if recording is None:
        raise NotFound(f"recording {recording_id} not found", {"recording_id": recording_id})
    rows = session.scalars(
        select(TranscriptSegment)
        .where(TranscriptSegment.recording_id == recording_id)
        .order_by(TranscriptSegment.start_seconds, TranscriptSegment.id)
    ).all()
    masked = authz.masks_identifiers(user)
    segments = [_segment_view(s, masked) for s in rows]
    audit.append(
        session,
        audit.Actor.of(user),
        "recording.read",
        "recording",
        recording.id,
        {"part": "transcript", "segments": len(segments), "masked": masked},
    )
    return Transcript(recording, segments)


def _segment_view(segment: TranscriptSegment, masked: bool) -> dict:
    show = mask_identifiers if masked else (lambda value: value)
    return {
        "id": segment.id,
        "speaker": segment.speaker,
        "start_seconds": segment.start_seconds,
        "end_seconds": segment.end_seconds,
        "text": show(segment.text),
        "language": segment.language,
        "engine": segment.engine,
        "model": segment.model,
        "words": [{**w, "text": show(str(w.get("text", "")))} for w in segment.words or []],
    }


def list_recordings(
    session: Session,
    status: RecordingStatus | None = None,
    *,
    page: int = 1,
    per_page: int = 50,
) -> list[Recording]:
    """Recordings newest first, optionally only those in one status (e.g. failed)."""
    query = select(Recording).order_by(Recording.id.desc())
    if status is not None:
        query = query.where(Recording.status == status)
    return list(session.scalars(query.limit(per_page).offset((page - 1) * per_page)))


def requeue(session: Session, user: User, recording_id: int) -> Recording:
    """Put a failed recording back to pending (the caller enqueues it after committing)."""
    recording = session.get(Recording, recording_id)
    if recording is None:
        raise NotFound(f"recording {recording_id} not found", {"recording_id": recording_id})
    if recording.status is not RecordingStatus.FAILED:
        raise Conflict(
            f"recording {recording_id} is {recording.status}; only failed recordings are re-queued",
            {"recording_id": recording_id, "status": str(recording.status)},
        )
    previous = recording.failure_reason
    recording.status = RecordingStatus.PENDING
    recording.failure_reason = None
    audit.append(
        session,
        audit.Actor.of(user),
        "recording.requeue",
        "recording",
        recording.id,
        {"previous_failure": previous},
    )
    return recording


def enqueue(jobs, recording_id: int, duration_seconds: float | None = None):
    """Put the recording's job on the ``recordings`` queue, once (same id as the switch uses)."""
    return jobs.enqueue(
        RECORDING_JOB,
        recording_id,
        queue="recordings",
        job_id=f"recording-{recording_id}",
        timeout=recording_job_timeout(duration_seconds),
    )
