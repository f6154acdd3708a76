"""Every role boundary: each forbidden access is refused (and audited), each allowed one works."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import AuditEntry
from callcenter.web.security import PUBLIC_ENDPOINTS
from tests import factories
from tests.conftest import csrf_token_from, login


@pytest.fixture
def world(app, users):
    """Agent 1 works campaign A (patient pa); agent 2 works campaign B (patient pb)."""
    pa = factories.patient("张伟", phone="+8613800138001")
    pb = factories.patient("Alice Brown", phone="+14155552671", language="en")
    ca = factories.campaign("A", agents=[users.agent])
    cb = factories.campaign("B", agents=[users.other_agent])
    ta = factories.task(ca, pa)
    factories.task(cb, pb)
    return {"pa": pa, "pb": pb, "ca": ca, "cb": cb, "ta": ta}


# (method, path template, json body, roles that must be refused with 403)
FORBIDDEN = [
    ("GET", "/api/v1/patients", None, ["qa"]),
    ("GET", "/api/v1/patients/{pa}", None, ["qa"]),
    (
        "POST",
        "/api/v1/patients",
        {"card_number": "X1", "name": "N", "phones": ["13800138009"]},
        ["agent", "qa"],
    ),
    ("PATCH", "/api/v1/patients/{pa}", {"name": "Changed"}, ["agent", "qa"]),
    ("GET", "/api/v1/patients/{pa}/observations", None, ["qa"]),
    (
        "POST",
        "/api/v1/patients/{pa}/observations",
        {"code": "8480-6", "value": 150, "taken_at": "2026-01-01T08:00:00+08:00"},
        ["qa"],
    ),
    ("POST", "/api/v1/patients/{pa}/tags", {"tag": "x"}, ["agent", "qa"]),
    ("GET", "/api/v1/tags", None, ["qa"]),
    ("POST", "/api/v1/tags", {"name": "new"}, ["agent", "qa"]),
    ("GET", "/api/v1/campaigns", None, ["qa"]),
    ("POST", "/api/v1/campaigns", {"name": "C", "kind": "agent"}, ["agent", "qa"]),
    ("GET", "/api/v1/tasks", None, ["qa"]),
    ("POST", "/api/v1/tasks", {"campaign_id": 1, "patient_id": 1}, ["agent", "qa"]),
    ("GET", "/api/v1/users", None, ["agent", "qa", "supervisor"]),
    (
        "POST",
        "/api/v1/users",
        {"username": "u", "role": "agent", "password": "x" * 12},
        ["agent", "qa", "supervisor"],
    ),
    ("PATCH", "/api/v1/users/1", {"role": "admin"}, ["agent", "qa", "supervisor"]),
    ("GET", "/api/v1/imports/1", None, ["agent", "qa"]),
]
CASES = [
    pytest.param(method, path, body, role, id=f"{role}-{method}-{path}")
    for method, path, body, roles in FORBIDDEN
    for role in roles
]


@pytest.mark.parametrize(("method", "path", "body", "role"), CASES)
def test_forbidden_api_access_is_refused_and_audited(
    client, users, world, method, path, body, role
):
    url = path.format(pa=world["pa"].id)
    response = client.open(url, method=method, json=body, headers=users.headers(role))
    assert response.status_code == 403, response.json
    assert response.json["error_id"] == "forbidden"
    denied = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "access.denied")
    ).all()
    assert [(e.actor, e.details["path"]) for e in denied] == [(getattr(users, role).username, url)]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/patients"), ("POST", "/api/v1/patients"), ("GET", "/api/v1/users")],
)
def test_api_without_credentials_is_401(client, app, method, path):
    response = client.open(path, method=method, json={})
    assert response.status_code == 401
    assert response.json["error_id"] == "not-authenticated"


def test_unknown_token_is_401(client, app):
    response = client.get("/api/v1/patients", headers={"Authorization": "Bearer cc_nope"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_agent_sees_only_patients_of_their_campaigns(client, users, world):
    mine = client.get("/api/v1/patients", headers=users.headers("agent")).json
    assert [p["name"] for p in mine["items"]] == ["张伟"]
    theirs = client.get("/api/v1/patients", headers=users.headers("other_agent")).json
    assert [p["name"] for p in theirs["items"]] == ["Alice Brown"]
    everyone = client.get("/api/v1/patients", headers=users.headers("supervisor")).json
    assert everyone["meta"]["total"] == 2


def test_agent_cannot_open_another_campaigns_patient(client, users, world):
    response = client.get(f"/api/v1/patients/{world['pb'].id}", headers=users.headers("agent"))
    assert response.status_code == 404  # indistinguishable from a missing record
    response = client.post(
        f"/api/v1/patients/{world['pb'].id}/observations",
        json={"code": "8480-6", "value": 150, "taken_at": "2026-01-01T08:00:00+08:00"},
        headers=users.headers("agent"),
    )
    assert response.status_code == 404


def test_agent_sees_only_their_campaigns_and_tasks(client, users, world):
    campaigns = client.get("/api/v1/campaigns", headers=users.headers("agent")).json
    assert [c["name"] for c in campaigns["items"]] == ["A"]
    response = client.get(f"/api/v1/campaigns/{world['cb'].id}", headers=users.headers("agent"))
    assert response.status_code == 404
    tasks = client.get("/api/v1/tasks", headers=users.headers("agent")).json
    assert [t["patient_id"] for t in tasks["items"]] == [world["pa"].id]


def test_admin_and_supervisor_can_read_everything_they_should(client, users, world):
    for role in ("supervisor", "admin"):
        assert (
            client.get(
                f"/api/v1/patients/{world['pb'].id}", headers=users.headers(role)
            ).status_code
            == 200
        )
    assert client.get("/api/v1/users", headers=users.headers("admin")).status_code == 200


def test_qa_pages_for_patients_are_forbidden_and_audited(client, users, world):
    assert login(client, "qa").status_code == 302
    response = client.get(f"/patients/{world['pa'].id}", headers={"Accept-Language": "en"})
    assert response.status_code == 403
    assert "Not allowed" in response.get_data(as_text=True)
    assert client.get("/audit").status_code == 403
    actions = db.session.scalars(
        select(AuditEntry.object_id).where(AuditEntry.action == "access.denied")
    ).all()
    assert actions == ["pages.patient_detail", "pages.audit_status"]


def test_pages_redirect_anonymous_users_to_login(client, app):
    response = client.get("/patients")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_only_admin_sees_the_audit_page(client, users, world):
    login(client, "supervisor")
    assert client.get("/audit").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token_from(client.get("/").text)})
    login(client, "admin")
    page = client.get("/audit", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "intact" in page.get_data(as_text=True)


def test_every_route_declares_a_permission(app):
    """Deny-by-default backs this up, but a route nobody can reach is a bug too."""
    undeclared = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in PUBLIC_ENDPOINTS
        and not getattr(app.view_functions[rule.endpoint], "_public", False)
        and not getattr(app.view_functions[rule.endpoint], "_permission", None)
    ]
    assert undeclared == []
