"""Find the newest segments matching a tsquery on PostgreSQL without reading every match.

A common word matches a tenth of all segments; ranking them all means reading 100,000 rows. The
search only ranks the newest matches (``transcript_search.RANK_WINDOW``; newest = highest
segment id, the most recently transcribed), and this module finds them in whichever of two ways
reads fewer rows:

- walk: read ``transcript_search`` backwards along its primary key and test each row (filters,
  then the tsquery). The newest rows sit together on a few pages, so this is cheap when matches
  are dense. It goes in blocks: the first is ``FIRST_BLOCK`` rows, the next is sized from the
  match rate seen so far, and it stops at ``WALK_BUDGET`` rows;
- index: ask the GIN index (with the filters' indexes) for every match and keep the newest;
  cheap when matches are few, as after a rare word or a narrow filter.

A block counts the rows it reads, not the rows it keeps, so a walk's cost is bounded whatever
the filters: a filter that keeps few of the newest rows shows up as a low rate, and the rest of
the search goes to the index.
"""

from __future__ import annotations

import math

from sqlalchemy import (
    BinaryExpression,
    Boolean,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    column,
    func,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY, TSVECTOR, aggregate_order_by
from sqlalchemy.orm import Session

from callcenter.models import PatientTag, Tag
from callcenter.models.base import UTCDateTime

FIRST_BLOCK = 10_000  # rows a search reads before it judges how dense the matches are
WALK_BUDGET = 100_000  # rows read at most (about 2,200 pages) before the index takes over
BLOCK_MARGIN = 1.3  # walk a little more than the rate seen so far suggests

search_table = table(
    "transcript_search",
    column("segment_id", Integer),
    column("search_vector", TSVECTOR),
    column("campaign_id", Integer),
    column("agent_id", Integer),
    column("patient_id", Integer),
    column("started_at", UTCDateTime()),
    column("speaker", String),
)
_t = search_table.c


def _matches(query):
    return _t.search_vector.op("@@", return_type=Boolean)(query)


def clauses(filters) -> list[BinaryExpression]:
    """Turn the search filters into conditions on ``transcript_search`` (no join needed)."""
    found = []
    for name in ("campaign_id", "agent_id", "patient_id"):
        if getattr(filters, name) is not None:
            found.append(_t[name] == getattr(filters, name))
    if filters.started_from is not None:
        found.append(_t.started_at >= filters.started_from)
    if filters.started_to is not None:
        found.append(_t.started_at < filters.started_to)
    if filters.speaker is not None:
        found.append(_t.speaker == str(filters.speaker))
    if filters.tag:
        tagged = (
            select(PatientTag.patient_id)
            .join(Tag, Tag.id == PatientTag.tag_id)
            .where(Tag.name == filters.tag)
        )
        found.append(_t.patient_id.in_(tagged))
    return found


def newest_matches(session: Session, tsquery: str, filters, want: int) -> list[int]:
    """Return the ids of the newest ``want`` matches of ``tsquery`` under ``filters``."""
    where = clauses(filters)
    query = bindparam("tsquery", tsquery).cast(TSQUERY)
    ids, below = _walk(session, query, where, None, FIRST_BLOCK)
    walked = FIRST_BLOCK
    while len(ids) < want and below is not None:  # ``below`` is None once every row was read
        need = want - len(ids)
        rate = len(ids) / walked
        block = math.ceil(need / rate * BLOCK_MARGIN) + 100 if rate else 0
        if not block or walked + block > WALK_BUDGET:
            return ids + _from_index(session, query, where, below, need)
        more, below = _walk(session, query, where, below, block)
        ids += more
        walked += block
    return ids[:want]


def _walk(session: Session, query, where: list, below: int | None, rows: int):
    """Read ``rows`` rows newest first below segment ``below``; return matches and where to go on.

    Where to go on is the lowest segment id read, or None when fewer rows were left.
    """
    # Filters go in the test, not the WHERE: the LIMIT then bounds the rows read, and cheap
    # filters come first so most rows never reach the tsquery.
    hit = and_(*where, _matches(query))
    block = (
        select(_t.segment_id, hit.label("hit"))
        .where(*([_t.segment_id < below] if below is not None else []))
        .order_by(_t.segment_id.desc())
        .limit(rows)
        .subquery()
    )
    read, lowest, found = session.execute(
        select(
            func.count(),
            func.min(block.c.segment_id),
            func.array_agg(aggregate_order_by(block.c.segment_id, block.c.segment_id.desc()))
            .filter(block.c.hit)
            .label("found"),
        )
    ).one()
    return list(found or []), (lowest if read == rows else None)


def _from_index(session: Session, query, where: list, below: int | None, want: int) -> list[int]:
    """Find the newest ``want`` matches below segment ``below`` through the GIN index."""
    # OFFSET 0 keeps the planner from walking the primary key here: it fetches the matches
    # (bitmap scans) and keeps the newest in a top-N sort.
    matches = (
        select(_t.segment_id)
        .where(_matches(query), *where, *([_t.segment_id < below] if below is not None else []))
        .offset(0)
        .subquery()
    )
    return list(
        session.scalars(
            select(matches.c.segment_id).order_by(matches.c.segment_id.desc()).limit(want)
        )
    )


def ranks(session: Session, tsquery: str, ids: list[int]) -> list[tuple[int, float]]:
    """Return (segment id, ts_rank) for each of the given segments."""
    if not ids:
        return []
    query = bindparam("tsquery", tsquery).cast(TSQUERY)
    rows = session.execute(
        select(_t.segment_id, func.ts_rank(_t.search_vector, query)).where(
            _t.segment_id == any_(bindparam("ids", ids, type_=ARRAY(Integer)))
        )
    ).all()
    return [(segment_id, float(rank)) for segment_id, rank in rows]
