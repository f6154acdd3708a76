"""A web worker warmed up before its first request: templates compiled, connections open."""

from __future__ import annotations

from pathlib import Path

from callcenter.extensions import db
from callcenter.web.warmup import warm_up

ROOT = Path(__file__).resolve().parents[2]


def test_warm_up_compiles_every_template_and_fills_the_pool(app):
    db.engine.dispose()
    templates = [n for n in app.jinja_env.list_templates() if n.endswith(".html")]
    app.jinja_env.cache.clear()

    warm_up(app)

    cached = {key[1] for key in app.jinja_env.cache}
    assert set(templates) <= cached
    assert db.engine.pool.checkedin() == db.engine.pool.size()


def test_gunicorn_runs_the_warm_up_in_each_worker(monkeypatch):
    import callcenter.web.warmup as warmup

    namespace: dict = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), namespace)  # as gunicorn reads it
    calls = []
    monkeypatch.setattr(warmup, "warm_up", calls.append)

    class Worker:
        wsgi = object()

    namespace["post_worker_init"](Worker())
    assert calls == [Worker.wsgi]
