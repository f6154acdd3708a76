"""The interface's languages (zh-CN and en): choosing one, switching, and labels for enum values.

The locale is, in order: the user's own choice (a cookie set by the language switch, so it
survives signing out), the browser's Accept-Language, then the ``DEFAULT_LANGUAGE`` setting.
Catalogues live in ``callcenter/translations``; see ``babel.cfg`` for how to update them.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    has_request_context,
    redirect,
    request,
    url_for,
)
from flask_babel import Babel, get_locale, refresh
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BuildError

from callcenter.errors import InvalidInput
from callcenter.services import authz
from callcenter.web.security import public

LANGUAGES = ("zh", "en")
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
HTML_LANG = {"zh": "zh-CN", "en": "en"}
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

babel = Babel()
blueprint = Blueprint("i18n", __name__)

# Enum values stored in the database, shown in the reader's language (``{{ x|label }}``).
LABELS = {
    # sex
    "female": _l("female"),
    "male": _l("male"),
    "other": _l("other"),
    "unknown": _l("unknown"),
    # presence
    "ready": _l("Ready"),
    "paused": _l("Paused"),
    "reserved": _l("Reserved"),
    "in_call": _l("In call"),
    "wrap_up": _l("Wrap-up"),
    "logged_out": _l("Logged out"),
    # dispositions
    "reached": _l("Reached"),
    "callback_requested": _l("Callback requested"),
    "wrong_number": _l("Wrong number"),
    "not_reached": _l("Not reached"),
    "refused": _l("Refused"),
    "deceased": _l("Deceased"),
    # task states
    "pending": _l("Pending"),
    "scheduled": _l("Scheduled"),
    "dialing": _l("Dialling"),
    "completed": _l("Completed"),
    "failed": _l("Failed"),
    "cancelled": _l("Cancelled"),
    "retry_scheduled": _l("Retry scheduled"),
    # observation sources
    "manual": _l("entered"),
    "import": _l("imported"),
    "exam_report": _l("exam report"),
    "ivr": _l("IVR"),
    "call": _l("call"),
    # roles
    "agent": _l("Agent"),
    "supervisor": _l("Supervisor"),
    "qa": _l("QA"),
    "admin": _l("Administrator"),
    # yes / no answers
    "yes": _l("yes"),
    "no": _l("no"),
}


def label(value) -> str:
    """The reader's word for a stored enum value; unknown values are shown as they are."""
    key = str(value) if value is not None else ""
    return str(LABELS[key]) if key in LABELS else key


def select_locale() -> str:
    default = current_app.config.get("DEFAULT_LANGUAGE", "zh")
    if not has_request_context():
        return default
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or default


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else "en"


def localized(texts: dict | str | None) -> str:
    """Pick the reader's language from a ``{"zh": ..., "en": ...}`` dict (campaign scripts)."""
    if not isinstance(texts, dict):
        return texts or ""
    language = current_language()
    return texts.get(language) or next((t for t in texts.values() if t), "")


def url_if(endpoint: str, **values) -> str | None:
    """A link to ``endpoint`` if that page exists and the signed-in user may open it, else None.

    Templates link to optional pages (another role's, a later feature's) without dead links.
    """
    view = current_app.view_functions.get(endpoint)
    permission = getattr(view, "_permission", None)
    if view is None or (permission and not authz.allowed(g.get("user"), permission)):
        return None
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("pages.home")


@blueprint.route("/language", methods=["POST"])
@public
def switch_language():
    code = request.form.get("language", "")
    if code not in LANGUAGES:
        raise InvalidInput(
            f"language must be one of {', '.join(LANGUAGES)}, not {code!r}", {"field": "language"}
        )
    response = redirect(_safe_next(request.form.get("next")))
    response.set_cookie(
        COOKIE,
        code,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
    return response


def init_i18n(app: Flask) -> None:
    """Bind Flask-Babel to ``app`` and give templates the language helpers."""
    babel.init_app(app, locale_selector=select_locale)
    app.register_blueprint(blueprint)
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["localized"] = localized

    @app.before_request
    def _choose_locale_per_request():
        # Flask-Babel caches the locale on the app context, which outlives one request when a
        # caller (tests, a CLI) keeps one pushed; each request chooses afresh.
        refresh()

    @app.context_processor
    def _language_helpers():
        language = current_language()
        return {
            "current_language": language,
            "html_lang": HTML_LANG[language],
            "languages": LANGUAGE_NAMES,
            "url_if": url_if,
        }
