"""``flask worker run``: the RQ worker with the app loaded once."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from callcenter.jobs import QUEUES

group = AppGroup("worker", help="Background jobs.")


@group.command("run")
@click.option("--queue", "queues", multiple=True, help="queue names (default: all)")
@click.option("--burst", is_flag=True, help="stop when the queues are empty")
def run_command(queues: tuple[str, ...], burst: bool) -> None:
    """Work the imports, recordings and default queues."""
    from worker import context, main

    context.use_app(current_app._get_current_object())
    main.run(queues or QUEUES, burst=burst)
