"""Transcript search latency with 1,000,000 segments on PostgreSQL, and the ILIKE scan it beats.

50,000 calls of 20 segments (70% Mandarin, 25% English, 5% code-switched) are streamed in with
COPY (the search table's indexes and foreign keys are built after the load, as a restore would),
then each query type is run through ``transcript_search.search`` as a supervisor, audit append
and commit included, types interleaved. A query matching more than 1,000 segments ranks the
newest 1,000 (the service's ranking window) and reports its total as capped. The baseline
answers the same page (20 newest matches and the full total) with ``ILIKE '%word%'`` per word.
Run with ``python -m bench.bench_transcript_search``.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from bench.common import bench_app, median, note, percentile, report
from bench.transcript_corpus import segments_of_call
from callcenter.extensions import db
from callcenter.models import Campaign, CampaignKind, Role, User
from callcenter.services.transcript_search import Filters, search

CALLS = int(os.environ.get("BENCH_TRANSCRIPT_CALLS", "50000"))
SEGMENTS_PER_CALL = 20
PATIENTS = 10_000
CAMPAIGNS = 20
AGENTS = 20
RUNS_PER_TYPE = int(os.environ.get("BENCH_TRANSCRIPT_RUNS", "100"))
ILIKE_RUNS = 5
GOAL_P95_MS = 50.0
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

QUERY_TYPES: dict[str, list[str]] = {
    "zh_word": ["血压", "头晕", "降压药", "复查", "胸闷", "二甲双胍", "睡眠"],
    "en_word": ["medication", "dizzy", "metformin", "appointment", "swollen", "salt"],
    "phrase": ['"blood pressure"', '"按时服用"', '"feel a bit dizzy"', '"忘记吃药"'],
    "mixed": ["blood 有点高", "metformin 每天", "血压 早上"],
    "zh_word+campaign": ["血压", "头晕", "降压药", "胸闷"],
}


def _copy(table: str, columns: list[str], rows) -> None:
    cursor = db.session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def load(rng: random.Random) -> tuple[User, list[int]]:
    """Create people, campaigns, calls, recordings and segments; return a supervisor."""
    supervisor = User(username="bench-sup", display_name="sup", role=Role.SUPERVISOR,
                      password_hash="bench")  # fmt: skip
    agents = [User(username=f"bench-agent-{i}", display_name="a", role=Role.AGENT,
                   password_hash="bench") for i in range(AGENTS)]  # fmt: skip
    campaigns = [Campaign(name=f"bench {i}", kind=CampaignKind.AGENT) for i in range(CAMPAIGNS)]
    db.session.add_all([supervisor, *agents, *campaigns])
    db.session.flush()
    now = datetime.now(UTC)
    _copy(
        "patients",
        ["id", "card_number", "name", "sex", "timezone", "language", "consent_call",
         "consent_record", "do_not_call", "created_at", "updated_at"],
        ((i, f"T{i:07d}", f"患者{i}", "unknown", "Asia/Shanghai", "zh", True, True, False,
          now, now) for i in range(1, PATIENTS + 1)),
    )  # fmt: skip
    calls = [
        (str(uuid.UUID(int=rng.getrandbits(128))), rng.choice(campaigns).id,
         rng.randint(1, PATIENTS), rng.choice(agents).id,
         EPOCH + timedelta(minutes=i * 5))
        for i in range(CALLS)
    ]  # fmt: skip
    _copy(
        "call_attempts",
        ["id", "campaign_id", "patient_id", "agent_id", "direction", "number", "started_at"],
        ((c[0], c[1], c[2], c[3], "outbound", "+8613800000000", c[4]) for c in calls),
    )
    _copy(
        "recordings",
        ["id", "call_attempt_id", "source_path", "status", "created_at"],
        ((i + 1, c[0], f"/tmp/{c[0]}.wav", "ready", c[4]) for i, c in enumerate(calls)),
    )
    db.session.execute(text("SELECT setval('recordings_id_seq', :n)"), {"n": CALLS})
    languages = ["zh"] * 14 + ["en"] * 5 + ["mixed"]
    # Segments and their search rows go in together, a chunk of calls at a time (the search
    # table's foreign key needs the segments first).
    seg_id = 0
    for first in range(0, CALLS, 1000):
        segments, searchable = [], []
        for index in range(first, min(first + 1000, CALLS)):
            _, campaign_id, patient_id, agent_id, started_at = calls[index]
            language = rng.choice(languages)
            for row in segments_of_call(rng, language, SEGMENTS_PER_CALL):
                seg_id += 1
                speaker, start, end, text_, words, search_text, vector = row
                lang = "en" if language == "en" else "zh"
                segments.append((seg_id, index + 1, speaker, start, end, text_, words, lang,
                                 "vosk", "bench", search_text))  # fmt: skip
                searchable.append((seg_id, vector, campaign_id, agent_id, patient_id,
                                   started_at, speaker))  # fmt: skip
        _copy(
            "transcript_segments",
            ["id", "recording_id", "speaker", "start_seconds", "end_seconds", "text", "words",
             "language", "engine", "model", "search_text"],
            segments,
        )  # fmt: skip
        _copy(
            "transcript_search",
            ["segment_id", "search_vector", "campaign_id", "agent_id", "patient_id",
             "started_at", "speaker"],
            searchable,
        )  # fmt: skip
    tag = db.session.scalar(
        text("INSERT INTO tags (name, colour, source, created_at) "
             "VALUES ('高血压', '#ff0000', 'manual', now()) RETURNING id")
    )  # fmt: skip
    db.session.execute(
        text("INSERT INTO patient_tags (patient_id, tag_id, created_at) "
             "SELECT id, :t, now() FROM patients WHERE id % 3 = 0"), {"t": tag}
    )  # fmt: skip
    db.session.commit()
    return supervisor, [c.id for c in campaigns]


def drop_search_indexes() -> list[str]:
    """Drop the search table's indexes and foreign keys before the load; return their DDL."""
    rows = db.session.execute(
        text("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
             "WHERE conrelid = 'transcript_search'::regclass AND contype = 'f'")
    ).all()  # fmt: skip
    ddl = [f"ALTER TABLE transcript_search ADD CONSTRAINT {n} {d}" for n, d in rows]
    for name, _ in rows:
        db.session.execute(text(f"ALTER TABLE transcript_search DROP CONSTRAINT {name}"))
    indexes = db.session.execute(
        text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'transcript_search' "
             "AND indexname <> 'pk_transcript_search'")
    ).all()  # fmt: skip
    for name, definition in indexes:
        db.session.execute(text(f"DROP INDEX {name}"))
        ddl.insert(0, definition)
    db.session.commit()
    return ddl


def build_indexes(ddl: list[str]) -> None:
    """Build the indexes and foreign keys after the load, as a restore would; update stats."""
    db.session.execute(text("SET maintenance_work_mem = '512MB'"))
    for statement in ddl:
        db.session.execute(text(statement))
    db.session.commit()
    raw = db.engine.raw_connection()
    try:
        raw.driver_connection.autocommit = True
        raw.driver_connection.execute("VACUUM ANALYZE")
    finally:
        raw.close()


def _filters(kind: str, rng: random.Random, campaign_ids: list[int]) -> Filters:
    return Filters(campaign_id=rng.choice(campaign_ids)) if "campaign" in kind else Filters()


def time_search(supervisor: User, campaign_ids: list[int]) -> dict[str, list[float]]:
    rng = random.Random(3)
    samples: dict[str, list[float]] = {kind: [] for kind in QUERY_TYPES}
    hits: dict[str, list[int]] = {kind: [] for kind in QUERY_TYPES}
    for round_ in range(RUNS_PER_TYPE + 5):
        for kind, pool in QUERY_TYPES.items():
            q, filters = rng.choice(pool), _filters(kind, rng, campaign_ids)
            started = time.perf_counter()
            result = search(db.session, supervisor, q, filters)
            db.session.commit()
            if round_ >= 5:  # warm-up rounds are not counted
                samples[kind].append((time.perf_counter() - started) * 1000)
                hits[kind].append(result.total_capped)
    for kind in QUERY_TYPES:
        share = sum(hits[kind]) / len(hits[kind])
        note(f"{kind}: {share:.0%} of queries matched more than 1,000 segments (window ranked)")
    return samples


def _ilike_sql(q: str, campaign: bool) -> tuple[str, dict]:
    words = [q.strip('"')] if q.startswith('"') else q.split()
    params = {f"w{i}": f"%{w}%" for i, w in enumerate(words)}
    where = " AND ".join(f"s.text ILIKE :w{i}" for i in range(len(words)))
    join = ""
    if campaign:
        join = ("JOIN recordings r ON r.id = s.recording_id "
                "JOIN call_attempts c ON c.id = r.call_attempt_id")  # fmt: skip
        where += " AND c.campaign_id = :campaign"
    sql = (f"SELECT s.id, count(*) OVER () FROM transcript_segments s {join} "
           f"WHERE {where} ORDER BY s.id DESC LIMIT 20")  # fmt: skip
    return sql, params


def time_ilike(campaign_ids: list[int]) -> dict[str, list[float]]:
    rng = random.Random(4)
    samples: dict[str, list[float]] = {kind: [] for kind in QUERY_TYPES}
    for _ in range(ILIKE_RUNS):
        for kind, pool in QUERY_TYPES.items():
            sql, params = _ilike_sql(rng.choice(pool), "campaign" in kind)
            params["campaign"] = rng.choice(campaign_ids)
            started = time.perf_counter()
            db.session.execute(text(sql), params).all()
            samples[kind].append((time.perf_counter() - started) * 1000)
            db.session.rollback()
    return samples


def main() -> None:
    print(f"== transcript search: {CALLS * SEGMENTS_PER_CALL:,} segments", flush=True)
    rng = random.Random(11)
    with bench_app():
        ddl = drop_search_indexes()
        started = time.perf_counter()
        supervisor, campaign_ids = load(rng)
        loaded = time.perf_counter() - started
        build_indexes(ddl)
        indexed = time.perf_counter() - started - loaded
        report("segments loaded (COPY)", CALLS * SEGMENTS_PER_CALL / loaded, "rows/s",
               detail=f"{loaded:.0f} s load, {indexed:.0f} s index + VACUUM ANALYZE")  # fmt: skip
        for table_ in ("transcript_segments", "transcript_search"):
            size = db.session.scalar(
                text("SELECT pg_size_pretty(pg_total_relation_size(:t))"), {"t": table_}
            )
            note(f"{table_} with indexes: {size}")
        note(f"load average before the searches: {os.getloadavg()[0]:.1f} (2 cores)")
        supervisor = db.session.scalar(select(User).where(User.id == supervisor.id))
        fts = time_search(supervisor, campaign_ids)
        ilike = time_ilike(campaign_ids)
        every = [ms for kind in fts for ms in fts[kind]]
        for kind, ms in fts.items():
            report(f"search {kind} p95", percentile(ms, 0.95), "ms", at_most=GOAL_P95_MS,
                   detail=f"p50 {median(ms):.1f} ms; ILIKE p50 {median(ilike[kind]):,.0f} ms, "
                          f"{median(ilike[kind]) / median(ms):,.0f}x slower")  # fmt: skip
        report("search all types p95", percentile(every, 0.95), "ms", at_most=GOAL_P95_MS,
               detail=f"p50 {median(every):.1f} ms")  # fmt: skip
        all_ilike = [ms for kind in ilike for ms in ilike[kind]]
        report("ILIKE scan / search (p50 ratio)", median(all_ilike) / median(every), "x")


if __name__ == "__main__":
    main()
