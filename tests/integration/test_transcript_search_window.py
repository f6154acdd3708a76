"""Broad transcript searches: the capped total, the ranking window of the newest matches, and
the PostgreSQL candidate search (walk newest first, or the GIN index) against a plain query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from callcenter.extensions import db
from callcenter.models import Speaker, TranscriptSegment
from callcenter.services import transcript_candidates, transcript_search, transcripts
from callcenter.services.transcript_search import Filters, search
from callcenter.services.transcript_text import parse_query
from tests import factories
from tests.integration import transcript_data

both_databases = pytest.mark.parametrize("db_kind", ["postgresql", "sqlite"], indirect=True)
DAY0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def _say(*texts: str) -> list[dict]:
    return [
        {"speaker": Speaker.PATIENT if i % 2 else Speaker.CLINIC, "start": float(i),
         "end": i + 0.5, "text": t}
        for i, t in enumerate(texts)
    ]  # fmt: skip


@pytest.fixture
def calls(app, users):
    """Ten calls a day apart (newest last); every call but the first says 头晕 once or more."""
    patient = factories.patient("王芳", phone="+8613900139000")
    campaign = factories.campaign("window", agents=[users.agent])
    made = []
    for day in range(10):
        call = transcript_data.call(campaign, patient, users.agent, DAY0 + timedelta(days=day))
        if day == 0:  # the oldest call says it three times: the best match of all
            lines = _say("头晕 头晕 头晕 很难受", "今天天气很好")
        elif day == 8:  # a recent call says it twice
            lines = _say("头晕 还是 头晕", "今天天气很好")
        else:
            lines = _say(f"第{day}天 有点 头晕", "今天天气很好")
        made.append(transcript_data.recording_with(call, lines))
    return made


def _segment_of(recording, word: str = "头晕") -> int:
    return db.session.scalar(
        select(TranscriptSegment.id).where(
            TranscriptSegment.recording_id == recording.id, TranscriptSegment.text.contains(word)
        )
    )


@both_databases
def test_a_broad_query_ranks_the_newest_matches_and_caps_the_total(calls, users, monkeypatch):
    monkeypatch.setattr(transcript_search, "RANK_WINDOW", 4)
    monkeypatch.setattr(transcript_search, "COUNT_CAP", 4)
    result = search(db.session, users.supervisor, "头晕")
    assert (result.total, result.total_capped, result.ranking_window) == (4, True, 4)
    newest_four = {_segment_of(r) for r in calls[6:]}
    assert {h.segment_id for h in result.hits} == newest_four
    # Ranked within the window: the call that says it twice first, then the newest.
    assert [h.segment_id for h in result.hits[:2]] == [
        _segment_of(calls[8]),
        _segment_of(calls[9]),
    ]
    # The oldest call, the best match of all, is outside the window until a date filter
    # narrows the matches to fewer than the window.
    assert _segment_of(calls[0]) not in newest_four
    before = search(
        db.session, users.supervisor, "头晕", Filters(started_to=DAY0 + timedelta(days=3))
    )
    assert (before.total, before.total_capped) == (3, False)
    assert before.hits[0].segment_id == _segment_of(calls[0])


@both_databases
def test_a_narrow_query_is_counted_and_ranked_in_full(calls, users):
    result = search(db.session, users.supervisor, "头晕")
    assert (result.total, result.total_capped) == (10, False)
    assert result.hits[0].segment_id == _segment_of(calls[0])  # three mentions
    assert result.hits[1].segment_id == _segment_of(calls[8])  # two
    assert len(result.hits) == 10


def _plain_newest(tsquery: str, where: str = "", params: dict | None = None) -> list[int]:
    """Every match in newest-first order, the slow obvious way."""
    return list(
        db.session.scalars(
            text(
                "SELECT segment_id FROM transcript_search "
                f"WHERE search_vector @@ CAST(:q AS tsquery) {where} "
                "ORDER BY segment_id DESC"
            ),
            {"q": tsquery, **(params or {})},
        )
    )


# (first block, walk budget, walks on, index used): one block that reads every row; blocks
# sized from the rate seen (a block without a match hands over to the index); a budget that
# runs out and hands the rest to the GIN index.
WAYS = [(1000, 1000, False, False), (3, 1000, True, True), (3, 6, False, True)]


@pytest.mark.parametrize(("first", "budget", "walks_on", "uses_index"), WAYS)
def test_every_way_finds_the_same_newest_matches_on_postgresql(
    calls, users, monkeypatch, first, budget, walks_on, uses_index
):
    monkeypatch.setattr(transcript_candidates, "FIRST_BLOCK", first)
    monkeypatch.setattr(transcript_candidates, "WALK_BUDGET", budget)
    used = []
    for name in ("_walk", "_from_index"):
        real = getattr(transcript_candidates, name)

        def spy(*args, _real=real, _name=name):
            used.append((_name, args[3] is not None))  # args[3]: continue below this row
            return _real(*args)

        monkeypatch.setattr(transcript_candidates, name, spy)
    for q in ["头晕", "天气", '"头晕 很难受"', "还是 头晕", "nothing"]:
        tsquery = parse_query(q).tsquery()
        expected = _plain_newest(tsquery)
        for want in (1, 4, 50):
            found = transcript_candidates.newest_matches(db.session, tsquery, Filters(), want)
            assert found == expected[:want], (q, want)
    weather = parse_query("天气").tsquery()  # the second line of every call: the patient's
    patient_side = _plain_newest(weather, "AND speaker = 'patient'")
    assert len(patient_side) == 10
    for speaker, expected in [(Speaker.PATIENT, patient_side), (Speaker.CLINIC, [])]:
        found = transcript_candidates.newest_matches(
            db.session, weather, Filters(speaker=speaker), 50
        )
        assert found == expected
    tsquery = parse_query("头晕").tsquery()
    window = Filters(started_from=DAY0 + timedelta(days=2), started_to=DAY0 + timedelta(days=6))
    expected = _plain_newest(
        tsquery,
        "AND started_at >= :a AND started_at < :b",
        {"a": window.started_from, "b": window.started_to},
    )
    assert len(expected) == 4
    assert transcript_candidates.newest_matches(db.session, tsquery, window, 3) == expected[:3]
    assert (("_walk", True) in used) == walks_on
    assert any(name == "_from_index" for name, _ in used) == uses_index


def test_the_search_table_follows_the_segments_on_postgresql(calls, users):
    def rows() -> int:
        return db.session.scalar(text("SELECT count(*) FROM transcript_search"))

    segments = db.session.scalar(select(func.count()).select_from(TranscriptSegment))
    assert rows() == segments == 20
    transcripts.index_segments(db.session, calls[3].id)
    transcripts.index_segments(db.session, calls[3].id)
    assert rows() == 20
    transcripts.replace_segments(db.session, calls[3].id, [])
    db.session.commit()
    assert rows() == 18
    # Filter columns are copied from the call when the segment is indexed.
    copied = db.session.execute(
        text("SELECT DISTINCT campaign_id, agent_id, patient_id FROM transcript_search")
    ).all()
    call = calls[0].call_attempt
    assert copied == [(call.campaign_id, call.agent_id, call.patient_id)]
