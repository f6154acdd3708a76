"""``flask users ...``: create users, reset passwords, issue API tokens."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import Role, User
from callcenter.services import accounts, audit

group = AppGroup("users", help="People and API tokens.")


def _user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    return user


@group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", "display_name", default=None)
@click.option("--extension", "sip_extension", default=None, help="SIP extension (agents)")
@click.option("--password", default=None, help="default: a generated one, printed once")
def create_command(username, role, display_name, sip_extension, password) -> None:
    """Create a user."""
    password = password or accounts.generate_password()
    accounts.create_user(
        db.session,
        audit.Actor(None, "cli"),
        username=username,
        password=password,
        role=role,
        display_name=display_name,
        sip_extension=sip_extension,
    )
    db.session.commit()
    click.echo(f"created {username} ({role}); password: {password}")


@group.command("set-password")
@click.argument("username")
@click.option("--password", default=None, help="default: a generated one, printed once")
def set_password_command(username, password) -> None:
    """Set a new password for a user."""
    user = _user(username)
    password = password or accounts.generate_password()
    user.password_hash = accounts.hash_password(password)
    audit.append(db.session, audit.Actor(None, "cli"), "user.password", "user", user.id)
    db.session.commit()
    click.echo(f"new password for {username}: {password}")


@group.command("token")
@click.argument("username")
@click.option("--name", default="cli", help="what the token is for")
def token_command(username, name) -> None:
    """Issue an API token (shown once)."""
    _token, plain = accounts.issue_token(db.session, _user(username), name)
    db.session.commit()
    click.echo(plain)
