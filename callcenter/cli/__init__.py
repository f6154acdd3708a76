"""``flask`` commands: demo data, imports, the audit check, users and the worker."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from callcenter.cli import audit, demo, patients, users, worker

    for group in (audit.group, demo.group, patients.group, users.group, worker.group):
        app.cli.add_command(group)
