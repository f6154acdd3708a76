"""``flask`` commands: demo data, imports, the audit check, users and the worker."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from callcenter.cli import audit, demo, models, patients, telephony, users, worker

    groups = (
        audit.group,
        demo.group,
        models.group,
        patients.group,
        users.group,
        worker.group,
        telephony.group,
        telephony.campaigns_group,
    )
    for group in groups:
        app.cli.add_command(group)
