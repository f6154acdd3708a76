"""``flask telephony run`` (the daemon) and ``flask campaigns start|pause|resume|stop ID``."""

from __future__ import annotations

import asyncio

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import Role, User
from callcenter.services import campaign_control

group = AppGroup("telephony", help="The telephony daemon.")
campaigns_group = AppGroup("campaigns", help="Campaign control.")


@group.command("run")
@click.option("--nodes", default=None, help="ESL nodes (default: ESL_NODES)")
def run_command(nodes: str | None) -> None:
    """Connect to FreeSWITCH, run the dialer and apply call events until stopped."""
    import logging

    from callcenter.telephony.daemon import run_daemon

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = current_app._get_current_object()
    asyncio.run(run_daemon(app, nodes or app.config["ESL_NODES"]))


@group.command("demo-scripts")
@click.argument("path")
def demo_scripts_command(path: str) -> None:
    """Write simulator scripts giving the demo patients every outcome (make run uses it)."""
    from callcenter.telephony.demo_scripts import write_demo_scripts

    click.echo(f"wrote {write_demo_scripts(db.session, path)}")


def _operator(username: str | None) -> User:
    query = select(User).where(User.role.in_((Role.ADMIN, Role.SUPERVISOR)))
    if username:
        query = query.where(User.username == username)
    user = db.session.scalar(query.order_by(User.id))
    if user is None:
        raise click.ClickException("no supervisor or admin user to act as (see --as)")
    return user


def _control_command(verb: str):
    @campaigns_group.command(verb)
    @click.argument("campaign_id", type=int)
    @click.option("--reason", default="")
    @click.option("--as", "username", default=None, help="supervisor or admin acting")
    def command(campaign_id: int, reason: str, username: str | None) -> None:
        campaign_control.control(db.session, _operator(username), campaign_id, verb, reason)
        db.session.commit()
        progress = campaign_control.progress(db.session, _operator(username), campaign_id)
        click.echo(f"campaign {campaign_id}: {progress['status']}; tasks {progress['tasks']}")

    command.__doc__ = f"{verb.capitalize()} a campaign."
    return command


for _verb in campaign_control.CONTROLS:
    _control_command(_verb)
