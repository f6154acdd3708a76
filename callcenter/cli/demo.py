"""``flask demo seed``: users of every role, 50 patients with years of indicators, campaigns."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from callcenter.extensions import db
from callcenter.services import demo

group = AppGroup("demo", help="Demo data for trying the product.")


@group.command("seed")
@click.option("--patients", default=50, show_default=True)
@click.option("--seed", "random_seed", default=7, show_default=True, help="random seed")
def seed_command(patients: int, random_seed: int) -> None:
    """Create demo data unless it exists; print the demo passwords (only this once)."""
    result = demo.seed(
        db.session,
        patients=patients,
        random_seed=random_seed,
        region=current_app.config["DEFAULT_REGION"],
    )
    db.session.commit()
    if not result.created:
        click.echo(
            "demo data already present; nothing changed "
            "(reset a password with: flask users set-password USER)"
        )
        return
    click.echo(
        f"demo data: {result.patients} patients, {result.observations} indicator values, "
        f"{len(result.campaigns)} campaigns"
    )
    click.echo("demo users (passwords are shown only now):")
    for username, role, password in result.users:
        click.echo(f"  {username:<12} {role:<11} {password}")
