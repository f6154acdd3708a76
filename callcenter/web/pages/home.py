"""The home page and the menu every page shows: what the signed-in user's role may open."""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template, request
from flask_babel import lazy_gettext as _l

from callcenter.services import authz
from callcenter.web.i18n import url_if
from callcenter.web.pages import pages
from callcenter.web.security import current, requires


@dataclass(frozen=True)
class MenuItem:
    permission: str
    endpoint: str
    label: object  # a lazy string, translated when the page is drawn


# The shell's menu, in order. A page adds itself with one line here; an entry whose endpoint is
# not (yet) registered is left out, so menus never link to missing pages.
MENU: list[MenuItem] = [
    MenuItem("presence.self", "pages.desk_page", _l("Agent desk")),
    MenuItem("patients.read", "pages.patient_list", _l("Patients")),
    MenuItem("wallboard.read", "pages.wallboard_page", _l("Wallboard")),
    MenuItem("recordings.read", "pages.recording_list", _l("Recordings")),
    MenuItem("transcripts.search", "pages.qa_search", _l("Transcript search")),
    MenuItem("scorecards.read", "pages.qa_scores", _l("QA scores")),
    MenuItem("campaigns.write", "pages.admin_campaigns", _l("Campaigns")),
    MenuItem("audit.read", "pages.audit_status", _l("Audit ledger")),
    MenuItem("audit.read", "pages.admin_home", _l("Administration")),
]


def menu_for(user) -> list[dict]:
    """The menu entries ``user`` may open, with their links and whether one is the current page."""
    entries = []
    for item in MENU:
        if not authz.allowed(user, item.permission):
            continue
        href = url_if(item.endpoint)
        if href is not None:
            entries.append(
                {"href": href, "label": item.label, "active": request.endpoint == item.endpoint}
            )
    return entries


@pages.app_context_processor
def _navigation():
    user = current()
    return {"nav_menu": menu_for(user) if user is not None else []}


@pages.route("/")
@requires("profile.read")
def home():
    return render_template("home.html")
