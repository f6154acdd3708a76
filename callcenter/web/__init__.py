"""HTTP side: pages for people, the JSON API, and the security wrapped around both."""

from __future__ import annotations

from flask import Flask

from callcenter import extensions


def register_web(app: Flask) -> None:
    from callcenter.web.api import API_BLUEPRINTS
    from callcenter.web.errors import register_error_handlers
    from callcenter.web.pages import pages
    from callcenter.web.security import init_security

    init_security(app)
    register_error_handlers(app)
    app.register_blueprint(pages)
    for blueprint in API_BLUEPRINTS:
        # The API checks CSRF itself for cookie sessions; Bearer clients have no CSRF token.
        extensions.csrf.exempt(blueprint)
        extensions.api.register_blueprint(blueprint)
