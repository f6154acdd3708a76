"""Transcript search on PostgreSQL (tsvector + GIN) and SQLite (FTS5): words, phrases, filters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from callcenter.errors import Forbidden, InvalidInput
from callcenter.extensions import db
from callcenter.models import AuditEntry, Speaker, TranscriptSegment
from callcenter.services import transcripts
from callcenter.services.transcript_search import EMPTY_QUERY_MESSAGE, Filters, search
from tests.integration import transcript_data

both_databases = pytest.mark.parametrize("db_kind", ["postgresql", "sqlite"], indirect=True)
pytestmark = both_databases


@pytest.fixture
def corpus(app, users):
    return transcript_data.build(users)


def texts(result) -> list[str]:
    segments = {s.id: s.text for s in db.session.scalars(select(TranscriptSegment))}
    return [segments[h.segment_id] for h in result.hits]


def test_mandarin_words_are_found_by_segmented_word(corpus, users):
    result = search(db.session, users.supervisor, "降压药")
    assert texts(result) == ["请按时服用降压药"]
    assert result.hits[0].snippet == "请按时服用<mark>降压药</mark>"
    # The word is spoken as "降压 药" in the engine's words; the jump goes to its first part.
    assert result.hits[0].offset_seconds == pytest.approx(1.5)

    found = texts(search(db.session, users.supervisor, "血压"))
    assert sorted(found) == sorted(["您最近血压怎么样", "血压还可以，我的电话是13800138001"])
    # A shorter dictionary word inside a longer one is found too (降压 in 降压药).
    assert texts(search(db.session, users.supervisor, "降压")) == ["请按时服用降压药"]
    assert texts(search(db.session, users.supervisor, "头晕")) == []


def test_english_words_match_case_insensitively_and_as_whole_words(corpus, users):
    result = search(db.session, users.supervisor, "MEDICATION")
    assert texts(result) == ["Please take your blood pressure medication every morning."]
    assert result.hits[0].snippet.count("<mark>") == 1
    assert "<mark>medication</mark>" in result.hits[0].snippet
    assert result.hits[0].offset_seconds == pytest.approx(3.1)
    assert texts(search(db.session, users.supervisor, "medic")) == []


def test_all_words_and_phrases(corpus, users):
    all_words = texts(search(db.session, users.supervisor, "pressure blood"))
    assert len(all_words) == 4  # both orders, both languages
    phrase = texts(search(db.session, users.supervisor, '"blood pressure"'))
    assert "<script>alert('x')</script> & the pressure of blood tests" not in phrase
    assert len(phrase) == 3
    assert texts(search(db.session, users.supervisor, '"pressure blood"')) == []
    zh_phrase = search(db.session, users.supervisor, '"按时服用降压药"')
    assert texts(zh_phrase) == ["请按时服用降压药"]
    assert zh_phrase.hits[0].snippet == "请<mark>按时服用降压药</mark>"
    assert texts(search(db.session, users.supervisor, '"服用按时"')) == []


def test_mixed_mandarin_and_english(corpus, users):
    result = search(db.session, users.supervisor, "blood 有点高")
    assert texts(result) == ["您的 blood pressure 有点高"]
    assert result.hits[0].snippet == "您的 <mark>blood</mark> pressure <mark>有点高</mark>"
    assert texts(search(db.session, users.supervisor, '"您的 blood pressure"')) == [
        "您的 blood pressure 有点高"
    ]


def test_ranking_puts_more_mentions_first(corpus, users):
    result = search(
        db.session, users.supervisor, "blood pressure", Filters(speaker=Speaker.PATIENT)
    )
    assert texts(result)[0] == "My blood pressure was high, the blood pressure cuff said so."
    ranks = [h.rank for h in result.hits]
    assert ranks == sorted(ranks, reverse=True)
    assert ranks[0] > ranks[-1]


def test_every_filter_narrows_the_results(corpus, users):
    def count(**kw) -> int:
        return search(db.session, users.supervisor, "blood", Filters(**kw)).total

    assert count() == 4
    assert count(campaign_id=corpus.campaign_a.id) == 1
    assert count(campaign_id=corpus.campaign_b.id) == 3
    assert count(agent_id=users.agent.id) == 1
    assert count(agent_id=users.other_agent.id) == 3
    assert count(patient_id=corpus.en_patient.id) == 3
    assert count(started_from=datetime(2026, 3, 2, tzinfo=UTC)) == 3
    assert count(started_to=datetime(2026, 3, 2, tzinfo=UTC)) == 1
    assert (
        count(
            started_from=datetime(2026, 3, 2, tzinfo=UTC),
            started_to=datetime(2026, 3, 4, tzinfo=UTC),
        )
        == 0
    )
    assert count(tag="高血压") == 1
    assert count(tag="no-such-tag") == 0
    assert count(speaker=Speaker.CLINIC) == 1
    assert count(speaker=Speaker.PATIENT) == 3


def test_snippets_escape_transcript_text(corpus, users):
    result = search(db.session, users.supervisor, "tests")
    snippet = result.hits[0].snippet
    assert snippet == (
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; the pressure of blood "
        "<mark>tests</mark>"
    )
    # A query for the markup finds the words in it, still escaped.
    script = search(db.session, users.supervisor, "<script>alert")
    assert script.hits[0].snippet.startswith("&lt;<mark>script</mark>&gt;<mark>alert</mark>(")


def test_offset_falls_back_to_segment_start_without_words(corpus, users):
    result = search(db.session, users.supervisor, "cuff")
    assert result.hits[0].offset_seconds == pytest.approx(7.0)


HOSTILE = [
    "",
    "   ",
    '"',
    '""',
    '"" ""',
    "*",
    "AND OR NOT",
    ":",
    "&|!()",
    "<->",
    "'",
    "\\",
    "NEAR OR AND",
    "-+^~",
    "。，！？",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_queries_without_words_give_an_empty_result_with_a_message(corpus, users, query):
    result = search(db.session, users.supervisor, query)
    assert result.hits == [] and result.total == 0
    assert result.message == EMPTY_QUERY_MESSAGE


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"blood', 4),
        ('blood "', 4),
        ('"blood pressure', 4),  # unbalanced: words, not a phrase
        ("NEAR(blood pressure)", 0),  # "near" is a word to find, not an operator
        ("{body subwords}: blood", 0),
        ("blood*", 4),
        ("blood AND NOT pressure", 4),
        ("body:blood", 0),  # "body" is a word here, not a column
        ("subwords : 降压", 0),
        ("'; DROP TABLE transcript_segments; --", 0),
        ("blood & (pressure | x)", 1),  # all three words: the alert('x') segment
        ("降压药 OR", 1),
        ('"blood" "pressure"', 4),
        ("x" * 300, 0),
        ("a'b\\c", 0),
    ],
)
def test_operator_soup_is_searched_as_plain_words(corpus, users, query, expected):
    assert search(db.session, users.supervisor, query).total == expected
    assert db.session.scalar(select(func.count()).select_from(TranscriptSegment)) == 7


def test_too_long_query_and_bad_page_are_clear_errors(corpus, users):
    with pytest.raises(InvalidInput, match="longer than 500"):
        search(db.session, users.supervisor, "x " * 300)
    with pytest.raises(InvalidInput, match="page"):
        search(db.session, users.supervisor, "blood", page=0)


def test_qa_sees_identifiers_masked_and_cannot_search_by_them(corpus, users):
    qa = search(db.session, users.qa, "电话")
    assert qa.hits[0].snippet == "血压还可以，我的<mark>电话</mark>是*******8001"
    by_number = search(db.session, users.qa, "13800138001")
    assert by_number.hits == [] and "not searchable for your role" in by_number.message
    assert search(db.session, users.supervisor, "13800138001").total == 1


def test_agents_may_not_search(corpus, users):
    with pytest.raises(Forbidden):
        search(db.session, users.agent, "blood")


def test_each_search_is_audited_with_numbers_masked(corpus, users):
    search(db.session, users.qa, "电话 13800138001", Filters(campaign_id=corpus.campaign_a.id))
    db.session.commit()
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "transcript.search")
    ).one()
    assert entry.actor == "qa"
    assert entry.details["q"] == "电话 *******8001"
    assert entry.details["filters"] == {"campaign_id": corpus.campaign_a.id}


def test_indexing_twice_keeps_one_entry_per_segment(corpus, users, db_kind):
    transcripts.index_segments(db.session, corpus.zh_recording.id)
    transcripts.index_segments(db.session, corpus.zh_recording.id)
    again = transcript_data.recording_with(corpus.zh_call, [])  # another recording, empty
    assert transcripts.index_segments(db.session, again.id) == 0
    db.session.commit()
    assert search(db.session, users.supervisor, "降压药").total == 1
    if db_kind == "sqlite":
        assert db.session.scalar(text("SELECT count(*) FROM transcript_fts")) == 7


def test_replacing_segments_drops_the_old_ones_from_search(corpus, users):
    segment = TranscriptSegment(
        speaker=Speaker.CLINIC,
        start_seconds=0.0,
        end_seconds=1.0,
        text="请测量血糖",
        words=[],
        language="zh",
        engine="vosk",
        model="test-model",
    )
    transcripts.replace_segments(db.session, corpus.zh_recording.id, [segment])
    db.session.commit()
    assert search(db.session, users.supervisor, "降压药").total == 0
    assert texts(search(db.session, users.supervisor, "血糖")) == ["请测量血糖"]


def test_pages_hold_twenty_and_count_them_all(app, users, corpus):
    many = [
        {"speaker": Speaker.PATIENT, "start": float(i), "end": i + 0.5, "text": f"头晕 第{i}次"}
        for i in range(45)
    ]
    transcript_data.recording_with(corpus.zh_call, many)
    first = search(db.session, users.supervisor, "头晕")
    third = search(db.session, users.supervisor, "头晕", page=3)
    assert (first.total, len(first.hits), third.total, len(third.hits)) == (45, 20, 45, 5)
    beyond = search(db.session, users.supervisor, "头晕", page=4)
    assert (beyond.total, beyond.hits) == (45, [])
