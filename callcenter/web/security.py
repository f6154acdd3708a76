"""Authentication (session or Bearer token) and a deny-by-default role check on every route.

A view declares what it needs with ``@requires("permission")`` or ``@public``. A view that
declares neither is refused for everyone: forgetting the decorator cannot open a route.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, current_app, g, request
from flask_login import current_user

from callcenter.errors import Forbidden, NotAuthenticated
from callcenter.extensions import csrf, db, login_manager
from callcenter.models import User
from callcenter.services import accounts, audit, authz

log = logging.getLogger(__name__)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Endpoints that hold no patient data and are not ours to decorate: the OpenAPI document.
PUBLIC_ENDPOINTS = frozenset({"static", "api-docs.openapi_json"})


def requires(permission: str) -> Callable:
    """Allow the view only to users whose role has ``permission`` (see services.authz)."""
    if permission not in authz.PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def decorate(view):
        view._permission = permission
        return view

    return decorate


def public(view):
    """Allow the view to anyone, signed in or not (login page, health check)."""
    view._public = True
    return view


def current() -> User | None:
    """The signed-in user of this request, from a Bearer token or the session cookie."""
    return g.get("user")


def actor() -> audit.Actor:
    return audit.Actor.of(current())


def is_api_request() -> bool:
    return request.path.startswith("/api/")


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


def _identify() -> None:
    g.user = None
    g.via_token = False
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = accounts.user_for_token(db.session, header.removeprefix("Bearer ").strip())
        if user is None:
            raise NotAuthenticated("the Bearer token is unknown, revoked or expired")
        g.user, g.via_token = user, True
        db.session.commit()  # keep last_used_at
    elif current_user.is_authenticated:
        g.user = current_user._get_current_object()


def _view_for_request():
    if request.endpoint is None:
        return None
    return current_app.view_functions.get(request.endpoint)


def _check_access() -> None:
    view = _view_for_request()
    if view is None:
        return  # a 404: nothing to protect
    if request.endpoint in PUBLIC_ENDPOINTS or getattr(view, "_public", False):
        return
    permission = getattr(view, "_permission", None)
    user = current()
    if permission is None:
        log.error("route %s declares no permission; refusing it", request.endpoint)
        raise Forbidden("this route declares no permission", {"endpoint": request.endpoint})
    if user is None:
        raise NotAuthenticated("sign in or send a Bearer token")
    if not authz.allowed(user, permission):
        audit.append(
            db.session,
            audit.Actor.of(user),
            "access.denied",
            "route",
            request.endpoint,
            {"path": request.path, "method": request.method, "permission": permission},
        )
        db.session.commit()
        raise Forbidden(
            f"your role ({user.role}) may not do {permission}", {"permission": permission}
        )
    if is_api_request() and request.method in UNSAFE_METHODS and not g.via_token:
        # Cookie-authenticated API calls from our own pages must carry the CSRF token.
        csrf.protect()


def init_security(app: Flask) -> None:
    login_manager.login_view = "pages.login"
    login_manager.session_protection = "strong"

    @app.before_request
    def _authenticate_and_authorize():
        _identify()
        _check_access()
