"""Server-rendered pages: sign-in, home, patients."""

from flask import Blueprint

pages = Blueprint("pages", __name__)

from callcenter.web.pages import auth, home, patients  # noqa: E402,F401
