"""Search transcripts for QA: ranked segments with a highlighted snippet and a time to jump to.

PostgreSQL matches the tsvectors of the narrow ``transcript_search`` table (GIN index) and ranks
with ts_rank; SQLite matches the FTS5 table and ranks with bm25. Both get their query text from
``transcript_text.parse_query``, which only ever emits quoted words, so no input can become
database syntax.

Ranking window: counting and ranking every match of a common word (100,000 of a million
segments) costs far more than the page shown, so a search takes the newest ``RANK_WINDOW``
matches (highest segment id: the most recently transcribed) and ranks those; on PostgreSQL
``transcript_candidates`` finds them without reading the older matches. When more match,
``total`` stops at ``COUNT_CAP`` and ``total_capped`` says so; the pages (at most ``MAX_PAGE``)
cover exactly the window. A query that matches fewer segments is ranked and counted in full.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, bindparam, column, func, literal_column, select, table
from sqlalchemy.orm import Session

from callcenter.errors import InvalidInput
from callcenter.models import (
    CallAttempt,
    PatientTag,
    Recording,
    Speaker,
    Tag,
    TranscriptSegment,
    User,
)
from callcenter.services import audit, authz, transcript_candidates
from callcenter.services.masking import mask_identifiers
from callcenter.services.transcript_text import (
    Query,
    first_match_offset,
    highlight,
    parse_query,
)

PER_PAGE = 20
MAX_PAGE = 50  # 1,000 results: nobody reviews more; refine the query instead
COUNT_CAP = PER_PAGE * MAX_PAGE  # counting stops here ("more than 1,000")
RANK_WINDOW = COUNT_CAP  # when more match, the newest this many are ranked: every page is in it
MAX_QUERY_CHARS = 500
EMPTY_QUERY_MESSAGE = "the query has no words to search for (quotes and operators are ignored)"


@dataclass(frozen=True)
class Filters:
    campaign_id: int | None = None
    agent_id: int | None = None
    patient_id: int | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    tag: str | None = None
    speaker: Speaker | None = None

    def as_details(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Hit:
    segment_id: int
    recording_id: int
    call_attempt_id: str
    campaign_id: int | None
    agent_id: int | None
    patient_id: int | None
    call_started_at: datetime
    speaker: Speaker
    start_seconds: float
    end_seconds: float
    offset_seconds: float
    rank: float
    snippet: str  # HTML: escaped text with <mark> around matches


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    total: int
    page: int
    per_page: int
    query: Query
    message: str = ""
    terms: list[str] = field(default_factory=list)
    total_capped: bool = False  # more than ``total`` matched; only the newest were ranked
    ranking_window: int = RANK_WINDOW


def search(
    session: Session,
    user: User,
    query: str,
    filters: Filters | None = None,
    page: int = 1,
) -> SearchResult:
    """Find transcript segments matching every word (or quoted phrase) of ``query``."""
    authz.require(user, "transcripts.search")
    filters = filters or Filters()
    if len(query or "") > MAX_QUERY_CHARS:
        raise InvalidInput(f"the query is longer than {MAX_QUERY_CHARS} characters", {"field": "q"})
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput(f"page must be between 1 and {MAX_PAGE}", {"field": "page"})
    masked = authz.masks_identifiers(user)
    parsed = parse_query(query or "", hide_identifiers=masked)
    message = ""
    if parsed.dropped:
        message = "phone and ID numbers are not searchable for your role; they were left out"
    if parsed.empty:
        message = message or EMPTY_QUERY_MESSAGE
        hits, total, capped = [], 0, False
    else:
        hits, total, capped = _run(session, parsed, filters, page, masked)
    audit.append(
        session,
        audit.Actor.of(user),
        "transcript.search",
        "transcript",
        "*",
        {
            "q": mask_identifiers(query or ""),
            "filters": filters.as_details(),
            "page": page,
            "results": total,
            "results_capped": capped,
        },
    )
    return SearchResult(
        hits, total, page, PER_PAGE, parsed, message, parsed.tokens, capped, RANK_WINDOW
    )


def _run(session: Session, parsed: Query, filters: Filters, page: int, masked: bool):
    window = RANK_WINDOW
    if session.get_bind().dialect.name == "postgresql":
        tsquery = parsed.tsquery()
        newest = transcript_candidates.newest_matches(session, tsquery, filters, window + 1)
        ranked = transcript_candidates.ranks(session, tsquery, newest[:window])
    else:
        newest = _sqlite_newest(session, parsed, filters, window + 1)
        ranked = newest[:window]
    capped = len(newest) > window
    # Best first; ties: the newer segment first.
    ranked.sort(key=lambda pair: (-pair[1], -pair[0]))
    start = (page - 1) * PER_PAGE
    shown = ranked[start : start + PER_PAGE]
    total = min(len(newest), COUNT_CAP)
    return _hits(session, shown, parsed, masked), total, capped


def _sqlite_newest(session: Session, parsed: Query, filters: Filters, want: int):
    """Return (segment id, -bm25) of the newest ``want`` matches, newest first."""
    fts_table = table("transcript_fts", column("rowid"))
    fts = literal_column("transcript_fts")
    # bm25 only works in a plain scan of the FTS table, so score there (materialized, never
    # flattened into the join); lower is better, words weigh more than the words inside.
    matches = (
        select(fts_table.c.rowid.label("id"), func.bm25(fts, 1.0, 0.5).label("score"))
        .where(fts.op("MATCH")(bindparam("fts", parsed.fts5())))
        .cte("fts_matches")
        .prefix_with("MATERIALIZED")
    )
    query = (
        select(TranscriptSegment.id, matches.c.score)
        .join_from(matches, TranscriptSegment, TranscriptSegment.id == matches.c.id)
        .join(Recording, Recording.id == TranscriptSegment.recording_id)
        .join(CallAttempt, CallAttempt.id == Recording.call_attempt_id)
    )
    query = _filtered(query, filters)
    rows = session.execute(query.order_by(TranscriptSegment.id.desc()).limit(want)).all()
    return [(row.id, -float(row.score)) for row in rows]


def _filtered(query: Select, filters: Filters) -> Select:
    """Apply the filters to a query joined to its recording and call (SQLite's path)."""
    if filters.speaker is not None:
        query = query.where(TranscriptSegment.speaker == filters.speaker)
    if filters.campaign_id is not None:
        query = query.where(CallAttempt.campaign_id == filters.campaign_id)
    if filters.agent_id is not None:
        query = query.where(CallAttempt.agent_id == filters.agent_id)
    if filters.patient_id is not None:
        query = query.where(CallAttempt.patient_id == filters.patient_id)
    if filters.started_from is not None:
        query = query.where(CallAttempt.started_at >= filters.started_from)
    if filters.started_to is not None:
        query = query.where(CallAttempt.started_at < filters.started_to)
    if filters.tag:
        tagged = (
            select(PatientTag.patient_id)
            .join(Tag, Tag.id == PatientTag.tag_id)
            .where(Tag.name == filters.tag, PatientTag.patient_id == CallAttempt.patient_id)
        )
        query = query.where(tagged.exists())
    return query


def _hits(session: Session, rows, parsed: Query, masked: bool) -> list[Hit]:
    if not rows:
        return []
    ids = [segment_id for segment_id, _ in rows]
    loaded = session.execute(
        select(TranscriptSegment, Recording, CallAttempt)
        .join(Recording, Recording.id == TranscriptSegment.recording_id)
        .join(CallAttempt, CallAttempt.id == Recording.call_attempt_id)
        .where(TranscriptSegment.id.in_(ids))
    ).all()
    by_id = {segment.id: (segment, recording, call) for segment, recording, call in loaded}
    tokens = parsed.tokens
    hits = []
    for segment_id, rank in rows:
        segment, recording, call = by_id[segment_id]
        text = mask_identifiers(segment.text) if masked else segment.text
        hits.append(
            Hit(
                segment_id=segment.id,
                recording_id=recording.id,
                call_attempt_id=call.id,
                campaign_id=call.campaign_id,
                agent_id=call.agent_id,
                patient_id=call.patient_id,
                call_started_at=call.started_at,
                speaker=segment.speaker,
                start_seconds=segment.start_seconds,
                end_seconds=segment.end_seconds,
                offset_seconds=first_match_offset(
                    segment.words or [], tokens, segment.start_seconds
                ),
                rank=rank,
                snippet=highlight(text, tokens),
            )
        )
    return hits
