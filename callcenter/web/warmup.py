"""Get a web worker ready before its first request: the first pops after a restart come in a
burst (every agent's call is bridged within a second of the campaign starting) and must not each
pay for compiling templates or opening database connections."""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy import text

log = logging.getLogger(__name__)


def warm_up(app: Flask) -> None:
    """Compile every template and open the database pool's connections."""
    names = app.jinja_env.list_templates(filter_func=lambda name: name.endswith(".html"))
    for name in names:
        app.jinja_env.get_template(name)
    from callcenter.extensions import db

    with app.app_context():
        engine = db.engine
        size = getattr(engine.pool, "size", lambda: 1)()
        connections = [engine.connect() for _ in range(size)]
        for connection in connections:
            connection.execute(text("SELECT 1"))
            connection.close()  # back to the pool, open
    log.info("web worker warmed up: %s templates, %s database connections", len(names), size)
