"""Follow-up call center: the Flask application factory."""

from __future__ import annotations

import logging

from flask import Flask

from callcenter.config import load_config


def create_app(config: dict | None = None, **overrides) -> Flask:
    """Create the web application.

    ``config`` overrides settings read from the environment; keyword ``overrides`` replace
    adapters (``jobs=`` a JobQueue) so tests swap collaborators without patching globals.
    """
    from callcenter import cli, extensions, models  # noqa: F401  (models registers mappers)
    from callcenter.jobs import JobQueue
    from callcenter.telephony.commands import CommandBus
    from callcenter.web import register_web
    from callcenter.web.i18n import init_i18n

    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.update(load_config())
    if config:
        app.config.update(config)
        if "DATABASE_URL" in config:
            from callcenter.config import normalize_database_url

            app.config["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(config["DATABASE_URL"])

    _configure_sqlite(app)
    _configure_postgresql(app)
    extensions.db.init_app(app)
    extensions.migrate.init_app(
        app, extensions.db, directory=_migrations_dir(), render_as_batch=True, compare_type=True
    )
    extensions.login_manager.init_app(app)
    extensions.csrf.init_app(app)
    extensions.api.init_app(app)

    jobs = overrides.pop("jobs", None) or JobQueue.from_url(app.config["REDIS_URL"])
    app.extensions["callcenter.jobs"] = jobs
    # Web and worker never talk ESL: they put commands on a Redis stream for the daemon.
    app.extensions["callcenter.commands"] = overrides.pop("commands", None) or CommandBus(
        jobs.connection
    )
    if overrides:
        raise TypeError(f"unknown overrides: {sorted(overrides)}")

    register_web(app)
    init_i18n(app)
    cli.register(app)
    if not app.debug and app.config["APP_ENV"] != "test":
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
    return app


def _migrations_dir() -> str:
    from callcenter.config import PROJECT_ROOT

    return str(PROJECT_ROOT / "migrations")


def _configure_postgresql(app: Flask) -> None:
    """Plan every query with its real parameters.

    psycopg prepares a statement after a few runs, and PostgreSQL may then switch to a generic
    plan; for ``lower(name) LIKE $1 || '%'`` a generic plan cannot use the prefix index and scans
    the whole table (seen as search going from 10 ms to 45 ms after warm-up).
    """
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        options.setdefault("connect_args", {}).setdefault("prepare_threshold", None)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def _configure_sqlite(app: Flask) -> None:
    """Make SQLite behave for a multi-process app: WAL, foreign keys, waiting on locks."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if not uri.startswith("sqlite"):
        return
    from pathlib import Path

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    path = uri.removeprefix("sqlite:///")
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    options.setdefault("connect_args", {})["timeout"] = 30
    if not event.contains(Engine, "connect", _sqlite_pragmas):
        event.listen(Engine, "connect", _sqlite_pragmas)
