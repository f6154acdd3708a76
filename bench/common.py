"""Shared bench plumbing: a throwaway migrated PostgreSQL database, and one result-line format.

Benchmarks print figures; they are not tests. Each goal is judged here so every script marks a
miss the same way and ``run_all`` can count them.
"""

from __future__ import annotations

import math
import os
import statistics
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from callcenter import create_app
from callcenter.config import normalize_database_url
from callcenter.extensions import db

ADMIN_DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
# A database number of its own, so a bench never flushes what tests or a dev server keep.
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


@dataclass(frozen=True)
class Result:
    name: str
    value: float
    unit: str = ""
    goal: str = ""
    ok: bool | None = None  # None: a figure without a goal
    detail: str = ""  # context printed after the verdict, e.g. the p50 next to a p95

    def line(self) -> str:
        shown = f"{self.value:,.0f}" if self.value >= 100 else f"{self.value:.2f}"
        text_ = f"{self.name:<40} {shown:>8} {self.unit:<6}"
        if self.ok is not None:
            text_ += f"  (goal {self.goal})  {'OK' if self.ok else 'MISSED'}"
        if self.detail:
            text_ += f"  [{self.detail}]"
        return text_.rstrip()


def report(
    name: str,
    value: float,
    unit: str = "",
    *,
    at_least: float | None = None,
    at_most: float | None = None,
    detail: str = "",
) -> Result:
    """Print one figure; with ``at_least``/``at_most`` it is judged against that goal."""
    goal, ok = "", None
    if at_least is not None:
        goal, ok = f">= {at_least:,g}", value >= at_least
    elif at_most is not None:
        goal, ok = f"< {at_most:,g}", value < at_most
    result = Result(name, value, unit, goal, ok, detail)
    print(result.line(), flush=True)
    return result


def note(message: str) -> None:
    """A line of context under the figures (indented so the figures stay easy to scan)."""
    print(f"    {message}", flush=True)


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the value below which ``fraction`` of the samples fall."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def _admin_engine() -> Engine:
    # AUTOCOMMIT: CREATE/DROP DATABASE refuse to run inside a transaction.
    return create_engine(normalize_database_url(ADMIN_DATABASE_URL), isolation_level="AUTOCOMMIT")


def _drop_database(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        # Anything still connected (a pool we forgot, a crashed bench) would block the DROP.
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


def _app_config(url: str) -> dict:
    return {
        "APP_ENV": "test",
        "DATABASE_URL": url,
        "SECRET_KEY": "bench",
        "REDIS_URL": BENCH_REDIS_URL,
        # Nothing here records calls, but keep any stray write out of the checkout.
        "RECORDINGS_DIR": str(Path("/tmp") / "cc_bench_recordings"),
    }


@contextmanager
def bench_app() -> Iterator[Flask]:
    """Yield an app (inside its app context) on a fresh, migrated database; drop it afterwards."""
    admin = _admin_engine()
    name = f"cc_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin.url).set(database=name).render_as_string(hide_password=False)
    try:
        app = create_app(_app_config(url))
        with app.app_context():
            upgrade()
            try:
                yield app
            finally:
                db.session.remove()
                db.engine.dispose()
    finally:
        _drop_database(admin, name)
        admin.dispose()
