"""Sign-in, session cookies, CSRF and API tokens."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import ApiToken, AuditEntry, utcnow
from callcenter.services import accounts
from tests import factories
from tests.conftest import csrf_token_from, login


def test_login_sets_a_hardened_session_cookie(client, users):
    response = login(client, "agent")
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert client.get("/").status_code == 200


def test_wrong_password_is_refused_and_audited(client, users):
    response = login(client, "agent", "not the password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text  # the default interface language is zh
    english = client.post(
        "/login",
        data={
            "username": "agent",
            "password": "nope",
            "csrf_token": csrf_token_from(response.text),
        },
        headers={"Accept-Language": "en"},
    )
    assert "Wrong username or password" in english.text
    failed = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "login.failed"))
    assert failed.object_id == "agent"


def test_login_form_without_csrf_token_is_rejected(client, users):
    response = client.post("/login", data={"username": "agent", "password": factories.PASSWORD})
    assert response.status_code == 400


def test_open_redirect_after_login_is_refused(client, users):
    page = client.get("/login?next=https://evil.example/")
    token = csrf_token_from(page.text)
    response = client.post(
        "/login?next=https://evil.example/",
        data={"username": "agent", "password": factories.PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


def test_passwords_are_stored_as_argon2id(app):
    user = accounts.create_user(
        db.session,
        accounts.audit.Actor(None, "t"),
        username="nurse",
        password="a long enough password",
        role="agent",
    )
    assert user.password_hash.startswith("$argon2id$")
    assert "a long enough password" not in user.password_hash
    assert accounts.authenticate(db.session, "nurse", "a long enough password") is user
    assert accounts.authenticate(db.session, "nurse", "wrong") is None


def test_tokens_are_stored_hashed(app, users):
    plain = users.tokens["agent"]
    stored = db.session.scalars(select(ApiToken.token_hash)).all()
    assert plain not in stored
    assert all(len(h) == 64 for h in stored)


def test_revoked_and_expired_tokens_are_refused(client, users):
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == users.agent.id))
    token.revoked = True
    db.session.commit()
    assert client.get("/api/v1/tags", headers=users.headers("agent")).status_code == 401

    _t, plain = accounts.issue_token(
        db.session, users.agent, "short", expires_at=utcnow() - timedelta(seconds=1)
    )
    db.session.commit()
    response = client.get("/api/v1/tags", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 401


def test_inactive_user_cannot_use_a_token(client, users):
    users.agent.active = False
    db.session.commit()
    assert client.get("/api/v1/tags", headers=users.headers("agent")).status_code == 401


def test_cookie_api_writes_need_the_csrf_header(client, users):
    login(client, "supervisor")
    body = {"name": "vip", "colour": "#123456"}
    refused = client.post("/api/v1/tags", json=body)
    assert refused.status_code == 400
    assert refused.json["error_id"] == "csrf-failed"
    token = csrf_token_from(client.get("/").text)
    accepted = client.post("/api/v1/tags", json=body, headers={"X-CSRFToken": token})
    assert accepted.status_code == 201


def test_bearer_api_writes_need_no_csrf(client, users):
    response = client.post(
        "/api/v1/tags", json={"name": "vip"}, headers=users.headers("supervisor")
    )
    assert response.status_code == 201
