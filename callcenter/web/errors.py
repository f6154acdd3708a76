"""Errors as JSON with a stable ``error_id`` on the API and as friendly pages in the UI."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from callcenter.errors import CallcenterError, NotAuthenticated
from callcenter.extensions import db
from callcenter.web.security import is_api_request

log = logging.getLogger(__name__)

HTTP_ERROR_IDS = {
    400: "bad-request",
    401: "not-authenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    422: "invalid-request",
    429: "too-many-requests",
}


def _respond(status: int, error_id: str, message: str, details):
    if is_api_request():
        body = {"error_id": error_id, "message": message, "details": details or {}}
        return jsonify(body), status
    if status == 401:
        return redirect(url_for("pages.login", next=request.full_path))
    return render_template("error.html", status=status, message=message), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CallcenterError)
    def _domain_error(exc: CallcenterError):
        db.session.rollback()
        if isinstance(exc, NotAuthenticated) and is_api_request():
            response, status = _respond(exc.status, exc.error_id, exc.message, exc.details)
            response.headers["WWW-Authenticate"] = "Bearer"
            return response, status
        return _respond(exc.status, exc.error_id, exc.message, exc.details)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        return _respond(400, "csrf-failed", exc.description, {})

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        details = {}
        data = getattr(exc, "data", None)
        if isinstance(data, dict) and "messages" in data:
            details = data["messages"]  # webargs/marshmallow field errors
        message = exc.description if status != 422 else "the request does not match its schema"
        return _respond(status, HTTP_ERROR_IDS.get(status, "http-error"), message, details)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return _respond(500, "internal-error", "something went wrong on our side", {})
