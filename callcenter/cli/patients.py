"""``flask patients import FILE``: the same all-or-nothing import the API queues."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from callcenter.extensions import db
from callcenter.models import ImportFormat, ImportStatus
from callcenter.services import imports

group = AppGroup("patients", help="Patient data.")


@group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in ImportFormat]),
    help="csv or fhir (default: from the file name)",
)
def import_command(path: Path, fmt: str | None) -> None:
    """Import patients from a CSV file or a FHIR R4 Bundle (JSON)."""
    data = path.read_bytes()
    chosen = ImportFormat(fmt) if fmt else imports.guess_format(path.name, data)
    if chosen is None:
        raise click.UsageError("cannot tell the format from the file name; pass --format")
    job = imports.submit(db.session, None, path.name, data, chosen)
    db.session.commit()
    job = imports.run(db.session, job.id, imports.ImportSettings.from_config(current_app.config))
    if job.status is ImportStatus.SUCCEEDED:
        s = job.summary
        click.echo(
            f"imported {s['rows']} rows: {s['created']} created, {s['updated']} updated, "
            f"{s['unchanged']} unchanged, {s['observations_created']} observations added"
        )
        return
    click.echo(f"nothing imported: {job.summary.get('errors', 0)} errors in {path.name}", err=True)
    for error in job.errors:
        value = f" (value {error['value']!r})" if "value" in error else ""
        click.echo(
            f"  row {error['row']}, column {error['column'] or '-'}: {error['reason']}{value}",
            err=True,
        )
    if job.summary.get("errors", 0) > len(job.errors):
        click.echo(f"  ... and {job.summary['errors'] - len(job.errors)} more", err=True)
    sys.exit(1)
