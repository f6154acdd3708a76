"""The home page: what the signed-in user's role may open."""

from __future__ import annotations

from flask import render_template

from callcenter.services import authz
from callcenter.web.pages import pages
from callcenter.web.security import current, requires

MENU = (
    ("patients.read", "pages.patient_list", "Patients"),
    ("audit.read", "pages.audit_status", "Audit ledger"),
)


@pages.route("/")
@requires("profile.read")
def home():
    user = current()
    menu = [(endpoint, label) for perm, endpoint, label in MENU if authz.allowed(user, perm)]
    return render_template("home.html", menu=menu)
