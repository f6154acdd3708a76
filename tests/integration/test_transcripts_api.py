"""The transcript API: search, a recording's transcript, failed recordings and their re-queue."""

from __future__ import annotations

import pytest
from rq import Queue
from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import AuditEntry, Recording, RecordingStatus
from tests.integration import transcript_data

both_databases = pytest.mark.parametrize("db_kind", ["postgresql", "sqlite"], indirect=True)


@pytest.fixture
def corpus(app, users):
    return transcript_data.build(users)


def audit_entries(action: str) -> list[AuditEntry]:
    return db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
    ).all()


@both_databases
def test_search_returns_ranked_highlighted_hits(client, users, corpus):
    response = client.get(
        "/api/v1/transcripts/search",
        query_string={"q": "降压药", "campaign_id": corpus.campaign_a.id},
        headers=users.headers("supervisor"),
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["meta"] == {
        "page": 1,
        "per_page": 20,
        "total": 1,
        "total_capped": False,
        "ranking_window": 1000,
    }
    assert body["terms"] == ["降压药"]
    hit = body["items"][0]
    assert hit["snippet"] == "请按时服用<mark>降压药</mark>"
    assert hit["offset_seconds"] == pytest.approx(1.5)
    assert hit["recording_id"] == corpus.zh_recording.id
    assert hit["call_attempt_id"] == corpus.zh_call.id
    assert hit["speaker"] == "clinic"


@both_databases
def test_search_filters_by_date_tag_and_speaker(client, users, corpus):
    def total(**params) -> int:
        response = client.get(
            "/api/v1/transcripts/search",
            query_string={"q": "blood", **params},
            headers=users.headers("qa"),
        )
        assert response.status_code == 200, response.json
        return response.json["meta"]["total"]

    assert total() == 4
    # Dates are whole days in the clinic's timezone (Asia/Shanghai); "to" includes its day.
    assert total(**{"from": "2026-03-02"}) == 3
    assert total(to="2026-03-01") == 1
    assert total(**{"from": "2026-03-01T03:00:00+00:00"}) == 3
    assert total(tag="高血压") == 1
    assert total(speaker="clinic") == 1
    assert total(agent_id=users.other_agent.id, patient_id=corpus.en_patient.id) == 3


def test_search_with_only_operators_says_why_it_is_empty(client, users, corpus):
    response = client.get(
        "/api/v1/transcripts/search",
        query_string={"q": 'AND OR NOT &|!() * "" :'},
        headers=users.headers("qa"),
    )
    assert response.status_code == 200
    assert response.json["items"] == []
    assert "no words to search for" in response.json["message"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "x", "page": 0}, "page"),
        ({"q": "x", "page": 51}, "page"),
        ({"q": "x", "from": "yesterday"}, "from"),
        ({"q": "x", "speaker": "doctor"}, "speaker"),
        ({"q": "x", "campaign_id": "A"}, "campaign_id"),
        ({"q": "x" * 501}, "q"),
    ],
)
def test_bad_search_parameters_are_422_naming_the_field(client, users, app, params, field):
    response = client.get(
        "/api/v1/transcripts/search", query_string=params, headers=users.headers("qa")
    )
    assert response.status_code == 422
    assert field in response.json["details"]["query"]


def test_search_is_audited_and_qa_sees_numbers_masked(client, users, corpus):
    response = client.get(
        "/api/v1/transcripts/search",
        query_string={"q": "电话"},
        headers=users.headers("qa"),
    )
    assert response.json["items"][0]["snippet"].endswith("是*******8001")
    [entry] = audit_entries("transcript.search")
    assert (entry.actor, entry.details["q"], entry.details["results"]) == ("qa", "电话", 1)


@both_databases
def test_transcript_of_a_recording_is_ordered_timed_and_audited(client, users, corpus):
    recording_id = corpus.zh_recording.id
    response = client.get(
        f"/api/v1/recordings/{recording_id}/transcript", headers=users.headers("qa")
    )
    assert response.status_code == 200, response.json
    segments = response.json["segments"]
    starts = [s["start_seconds"] for s in segments]
    assert starts == sorted(starts) and len(segments) == 4
    assert [w["text"] for w in segments[0]["words"]] == ["请", "按时", "服用", "降压", "药"]
    assert segments[0]["words"][3]["start"] == pytest.approx(1.5)
    assert segments[2]["text"] == "血压还可以，我的电话是*******8001"  # QA: masked
    [entry] = audit_entries("recording.read")
    assert (entry.actor, entry.object_id, entry.details["part"]) == (
        "qa",
        str(recording_id),
        "transcript",
    )
    supervisor = client.get(
        f"/api/v1/recordings/{recording_id}/transcript", headers=users.headers("supervisor")
    ).json
    assert supervisor["segments"][2]["text"].endswith("13800138001")


def test_transcript_of_a_missing_recording_is_404(client, users, app):
    response = client.get("/api/v1/recordings/999/transcript", headers=users.headers("admin"))
    assert response.status_code == 404
    assert response.json["error_id"] == "not-found"


def _fail(recording: Recording, reason: str) -> None:
    recording.status = RecordingStatus.FAILED
    recording.failure_reason = reason
    db.session.commit()


def test_failed_recordings_are_listed_and_requeued(client, users, corpus, redis_conn):
    _fail(corpus.en_recording, "the WAV file is truncated")
    listed = client.get(
        "/api/v1/recordings", query_string={"status": "failed"}, headers=users.headers("supervisor")
    )
    assert listed.status_code == 200
    assert [
        (r["id"], r["call_attempt_id"], r["status"], r["failure_reason"]) for r in listed.json
    ] == [(corpus.en_recording.id, corpus.en_call.id, "failed", "the WAV file is truncated")]
    every = client.get("/api/v1/recordings", headers=users.headers("admin")).json
    assert {r["id"] for r in every} == {corpus.zh_recording.id, corpus.en_recording.id}

    response = client.post(
        f"/api/v1/recordings/{corpus.en_recording.id}/requeue",
        headers=users.headers("supervisor"),
    )
    assert response.status_code == 202, response.json
    assert (response.json["status"], response.json["failure_reason"]) == ("pending", None)
    [job] = Queue("recordings", connection=redis_conn).jobs
    assert job.func_name == "worker.jobs.process_recording"
    assert job.args == (corpus.en_recording.id,)
    assert job.id == f"recording-{corpus.en_recording.id}"
    [entry] = audit_entries("recording.requeue")
    assert entry.details == {"previous_failure": "the WAV file is truncated"}

    again = client.post(
        f"/api/v1/recordings/{corpus.en_recording.id}/requeue",
        headers=users.headers("supervisor"),
    )
    assert again.status_code == 409
    assert "only failed recordings" in again.json["message"]


FORBIDDEN = [
    ("GET", "/api/v1/transcripts/search?q=blood", ["agent"]),
    ("GET", "/api/v1/recordings/{rec}/transcript", ["agent"]),
    ("GET", "/api/v1/recordings?status=failed", ["agent", "qa"]),
    ("POST", "/api/v1/recordings/{rec}/requeue", ["agent", "qa"]),
]


@pytest.mark.parametrize(
    ("method", "path", "role"),
    [
        pytest.param(method, path, role, id=f"{role}-{method}-{path}")
        for method, path, roles in FORBIDDEN
        for role in roles
    ],
)
def test_forbidden_roles_get_403_and_are_audited(client, users, corpus, method, path, role):
    url = path.format(rec=corpus.zh_recording.id)
    response = client.open(url, method=method, headers=users.headers(role))
    assert response.status_code == 403, response.json
    assert response.json["error_id"] == "forbidden"
    denied = audit_entries("access.denied")
    assert [(e.actor, e.details["path"]) for e in denied] == [
        (getattr(users, role).username, url.split("?")[0])
    ]
    assert audit_entries("recording.read") == [] and audit_entries("transcript.search") == []
