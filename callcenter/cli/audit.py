"""``flask audit verify``: walk the ledger's hash chain."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from callcenter.extensions import db
from callcenter.services import audit

group = AppGroup("audit", help="The tamper-evident audit ledger.")


@group.command("verify")
def verify_command() -> None:
    """Check every entry; exit 1 naming the first entry that was edited, deleted or moved."""
    result = audit.verify(db.session)
    if result.ok:
        click.echo(f"audit ledger intact: {result.entries} entries")
        return
    click.echo(f"audit ledger BROKEN at seq {result.first_bad_seq}: {result.problem}", err=True)
    sys.exit(1)
