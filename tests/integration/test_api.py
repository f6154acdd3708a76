"""The REST API: patients, indicators, tags, campaigns, tasks, users, and its OpenAPI document."""

from __future__ import annotations

from openapi_spec_validator import validate
from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import AuditEntry, Observation
from tests import factories

NEW_PATIENT = {
    "card_number": "N001",
    "name": "陈静",
    "sex": "female",
    "birth_date": "1966-09-09",
    "phones": ["139 1234 5678", "+86 139-1234-5678", "021 6123 4567"],
    "consent_call": True,
    "consent_call_method": "verbal",
}


def test_openapi_document_is_valid_openapi_3(client, app):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json
    validate(spec)
    assert spec["openapi"].startswith("3.")
    for path in (
        "/api/v1/patients",
        "/api/v1/patients/{patient_id}",
        "/api/v1/campaigns",
        "/api/v1/tasks",
        "/api/v1/users",
        "/api/v1/tags",
        "/api/v1/imports",
    ):
        assert path in spec["paths"], path
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_create_patient_normalizes_phones(client, users):
    response = client.post(
        "/api/v1/patients", json=NEW_PATIENT, headers=users.headers("supervisor")
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["phones"] == ["+8613912345678", "+862161234567"]  # duplicates folded
    assert body["consent_call"] and body["consent_call_method"] == "verbal"
    assert body["consent_call_at"]
    assert body["timezone"] == "Asia/Shanghai" and body["language"] == "zh"


def test_create_patient_errors_are_json_with_error_ids(client, users):
    headers = users.headers("supervisor")
    bad_phone = client.post(
        "/api/v1/patients", json={**NEW_PATIENT, "phones": ["123"]}, headers=headers
    )
    assert bad_phone.status_code == 422
    assert bad_phone.json["error_id"] == "invalid-phone-number"
    bad_schema = client.post(
        "/api/v1/patients", json={"name": "x", "timezone": "Mars/Base"}, headers=headers
    )
    assert bad_schema.status_code == 422
    assert bad_schema.json["error_id"] == "invalid-request"
    assert "card_number" in bad_schema.json["details"]["json"]
    assert "timezone" in bad_schema.json["details"]["json"]
    client.post("/api/v1/patients", json=NEW_PATIENT, headers=headers)
    duplicate = client.post("/api/v1/patients", json=NEW_PATIENT, headers=headers)
    assert duplicate.status_code == 409 and duplicate.json["error_id"] == "conflict"
    no_method = client.post(
        "/api/v1/patients",
        json={**NEW_PATIENT, "card_number": "N2", "consent_call_method": None},
        headers=headers,
    )
    assert no_method.status_code == 422


def test_search_by_name_card_and_phone_with_pagination(client, users):
    for i in range(25):
        factories.patient(f"王{i:02d}", card=f"K{i:03d}", phone=f"+86138000{i:05d}")
    factories.patient("Mary Smith", card="E1", phone="+14155552671")
    headers = users.headers("supervisor")

    def names(**params):
        return client.get("/api/v1/patients", query_string=params, headers=headers).json

    page = names(q="王", per_page=10, page=3)
    assert page["meta"] == {"page": 3, "per_page": 10, "total": 25, "total_capped": False}
    assert len(page["items"]) == 5
    assert [p["name"] for p in names(q="mary")["items"]] == ["Mary Smith"]
    assert [p["card_number"] for p in names(q="K007")["items"]] == ["K007"]
    assert [p["card_number"] for p in names(q="2671")["items"]] == ["E1"]
    assert [p["card_number"] for p in names(q="138 0000 0012")["items"]] == ["K012"]
    assert names(q="nobody")["meta"]["total"] == 0
    assert names(q="100%_")["meta"]["total"] == 0  # LIKE wildcards are taken literally


def test_broad_searches_count_up_to_a_cap(client, users, monkeypatch):
    from callcenter.services import patients

    monkeypatch.setattr(patients, "COUNT_CAP", 5)
    for i in range(8):
        factories.patient(f"李{i}", phone=f"+86139000{i:05d}")
    headers = users.headers("supervisor")
    meta = client.get("/api/v1/patients?q=李&per_page=2", headers=headers).json["meta"]
    assert (meta["total"], meta["total_capped"]) == (5, True)
    meta = client.get("/api/v1/patients?q=李&per_page=20", headers=headers).json["meta"]
    assert (meta["total"], meta["total_capped"]) == (8, False)  # the page itself says
    past_end = client.get("/api/v1/patients?q=李&per_page=5&page=3", headers=headers).json
    assert past_end["items"] == [] and past_end["meta"]["total_capped"] is True


def test_plain_list_shows_newest_first_and_searches_by_name(client, users):
    older = factories.patient("Zed Older", phone="+8613900000001")
    newer = factories.patient("Amy Newer", phone="+8613900000002")
    headers = users.headers("supervisor")
    listed = client.get("/api/v1/patients", headers=headers).json["items"]
    assert [p["id"] for p in listed] == [newer.id, older.id]


def test_search_audit_masks_phone_numbers(client, users):
    client.get("/api/v1/patients?q=13800138000", headers=users.headers("supervisor"))
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "patient.search"))
    assert "13800138000" not in entry.details["q"] and entry.details["q"].endswith("8000")


def test_reading_a_patient_is_audited(client, users):
    p = factories.patient()
    client.get(f"/api/v1/patients/{p.id}", headers=users.headers("supervisor"))
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "patient.read"))
    assert (entry.actor, entry.object_id) == ("supervisor", str(p.id))


def test_update_patient_records_what_changed(client, users):
    p = factories.patient()
    response = client.patch(
        f"/api/v1/patients/{p.id}",
        json={"do_not_call": True, "do_not_call_reason": "asked us", "phones": ["13700137000"]},
        headers=users.headers("supervisor"),
    )
    assert response.status_code == 200
    assert response.json["do_not_call"] and response.json["phones"] == ["+8613700137000"]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "patient.update"))
    assert entry.details["fields"] == ["do_not_call", "do_not_call_reason", "phones"]


def test_observations_fill_in_catalog_defaults_and_flag_out_of_range(client, users):
    p = factories.patient()
    c = factories.campaign(agents=[users.agent])
    factories.task(c, p)
    headers = users.headers("agent")
    created = client.post(
        f"/api/v1/patients/{p.id}/observations",
        json={
            "code": "8480-6",
            "value": 165,
            "taken_at": "2026-05-01T08:00:00+08:00",
            "source": "call",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.json
    assert created.json["name"] == "Systolic blood pressure"
    assert created.json["unit"] == "mmHg" and created.json["out_of_range"] is True
    naive = client.post(
        f"/api/v1/patients/{p.id}/observations",
        json={"code": "8480-6", "value": 120, "taken_at": "2026-05-01T08:00:00"},
        headers=headers,
    )
    assert naive.status_code == 422  # a time without a zone is ambiguous
    listing = client.get(f"/api/v1/patients/{p.id}/observations?code=8480-6", headers=headers)
    assert [o["value"] for o in listing.json["items"]] == [165]
    change = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "observation.create"))
    assert change.details["code"] == "8480-6" and change.actor == "agent"
    assert db.session.scalar(select(Observation.source)).value == "call"


def test_tags_on_patients(client, users):
    p = factories.patient()
    headers = users.headers("supervisor")
    assert (
        client.post(
            "/api/v1/tags", json={"name": "高血压", "colour": "#dc2626"}, headers=headers
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/api/v1/tags", json={"name": "bad", "colour": "red"}, headers=headers
        ).status_code
        == 422
    )
    tagged = client.post(f"/api/v1/patients/{p.id}/tags", json={"tag": "高血压"}, headers=headers)
    assert tagged.status_code == 201
    detail = client.get(f"/api/v1/patients/{p.id}", headers=headers).json
    assert [t["name"] for t in detail["tags"]] == ["高血压"]
    counts = client.get("/api/v1/tags", headers=headers).json
    assert counts == [
        {
            "id": tagged.json["id"],
            "name": "高血压",
            "colour": "#dc2626",
            "source": "manual",
            "patients": 1,
        }
    ]
    removed = client.delete(f"/api/v1/patients/{p.id}/tags/{tagged.json['id']}", headers=headers)
    assert removed.status_code == 204
    assert client.get(f"/api/v1/patients/{p.id}", headers=headers).json["tags"] == []


def test_campaigns_and_tasks(client, users):
    p = factories.patient()
    headers = users.headers("supervisor")
    created = client.post(
        "/api/v1/campaigns",
        headers=headers,
        json={
            "name": "糖尿病随访",
            "kind": "agent",
            "calling_windows": [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "11:30"}],
            "retry_delays": {"busy": 300},
            "max_attempts": 4,
            "question_script": [
                {
                    "key": "glucose",
                    "type": "number",
                    "text": {"zh": "最近空腹血糖是多少？", "en": "Latest fasting glucose?"},
                    "indicator_code": "1558-6",
                }
            ],
            "agent_ids": [users.agent.id],
        },
    )
    assert created.status_code == 201, created.json
    campaign = created.json
    assert campaign["status"] == "draft" and campaign["agent_ids"] == [users.agent.id]
    assert campaign["retry_delays"]["busy"] == 300
    assert campaign["retry_delays"]["no_answer"] == 3600  # defaults kept for the rest
    bad_window = client.post(
        "/api/v1/campaigns",
        headers=headers,
        json={
            "name": "x",
            "kind": "agent",
            "calling_windows": [{"days": [7], "start": "25:00", "end": "10:00"}],
        },
    )
    assert bad_window.status_code == 422
    not_agent = client.post(
        "/api/v1/campaigns",
        headers=headers,
        json={"name": "y", "kind": "ivr", "agent_ids": [users.qa.id]},
    )
    assert not_agent.status_code == 422 and not_agent.json["details"]["ids"] == [users.qa.id]

    task = client.post(
        "/api/v1/tasks",
        headers=headers,
        json={"campaign_id": campaign["id"], "patient_id": p.id, "priority": 2},
    )
    assert task.status_code == 201 and task.json["state"] == "pending"
    listed = client.get(
        f"/api/v1/tasks?campaign_id={campaign['id']}&state=pending", headers=headers
    ).json
    assert [t["id"] for t in listed["items"]] == [task.json["id"]]
    assert client.get("/api/v1/tasks?state=bogus", headers=headers).status_code == 422
    detail = client.get(f"/api/v1/tasks/{task.json['id']}", headers=users.headers("agent"))
    assert detail.status_code == 200


def test_admin_manages_users(client, users):
    headers = users.headers("admin")
    created = client.post(
        "/api/v1/users",
        headers=headers,
        json={
            "username": "nurse.wu",
            "role": "agent",
            "password": "long enough pw",
            "sip_extension": "1010",
            "language": "zh",
        },
    )
    assert created.status_code == 201 and "password" not in created.json
    taken = client.post(
        "/api/v1/users",
        headers=headers,
        json={
            "username": "nurse.xu",
            "role": "agent",
            "password": "long enough pw",
            "sip_extension": "1010",
        },
    )
    assert taken.status_code == 409
    short = client.post(
        "/api/v1/users",
        headers=headers,
        json={"username": "nurse.zh", "role": "agent", "password": "short"},
    )
    assert short.status_code == 422
    changed = client.patch(
        f"/api/v1/users/{created.json['id']}",
        headers=headers,
        json={"role": "supervisor", "active": False},
    )
    assert changed.json["role"] == "supervisor" and changed.json["active"] is False
    listing = client.get("/api/v1/users?per_page=100", headers=headers).json
    assert "nurse.wu" in [u["username"] for u in listing["items"]]
    assert client.patch("/api/v1/users/9999", headers=headers, json={}).status_code == 404


def test_unknown_api_path_is_json_404(client, users):
    response = client.get("/api/v1/nothing-here", headers=users.headers("admin"))
    assert response.status_code == 404 and response.json["error_id"] == "not-found"


def test_trunk_api_creates_and_refuses_a_dial_string_without_the_number(client, users):
    made = client.post(
        "/api/v1/trunks",
        json={"name": "pstn", "dial_string": "sofia/gateway/pstn/{number}"},
        headers=users.headers("admin"),
    )
    assert made.status_code == 201, made.json
    bad = client.post(
        "/api/v1/trunks",
        json={"name": "broken", "dial_string": "sofia/gateway/pstn/"},
        headers=users.headers("admin"),
    )
    assert bad.status_code == 422
    assert "must contain {number}" in str(bad.json)


def test_answer_rate_counts_ended_calls_only(client, users):
    from callcenter.extensions import db
    from callcenter.models import CallAttempt, utcnow
    from tests import factories

    campaign = factories.campaign()
    now = utcnow()
    db.session.add_all(
        [
            CallAttempt(
                campaign_id=campaign.id, number="1", answered_at=now, hangup_cause="NORMAL_CLEARING"
            ),
            CallAttempt(campaign_id=campaign.id, number="2", hangup_cause="USER_BUSY"),
            CallAttempt(campaign_id=campaign.id, number="3", answered_at=now),  # still up
        ]
    )
    db.session.commit()
    progress = client.get(
        f"/api/v1/campaigns/{campaign.id}/progress", headers=users.headers("supervisor")
    ).json
    assert progress["answered"] == 2 and progress["calls"] == 2
    assert progress["answer_rate"] == 0.5
