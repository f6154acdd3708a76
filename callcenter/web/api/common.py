"""Helpers shared by the API resources."""

from __future__ import annotations

from flask import current_app

from callcenter.services.patients import Page

PREFIX = "/api/v1"


def page_body(page: Page) -> dict:
    return {
        "items": page.items,
        "meta": {
            "page": page.page,
            "per_page": page.per_page,
            "total": page.total,
            "total_capped": page.total_capped,
        },
    }


def setting(name: str):
    return current_app.config[name]


def patient_defaults() -> dict:
    return {"timezone": setting("DEFAULT_TIMEZONE"), "language": setting("DEFAULT_LANGUAGE")}
