"""The IVR campaign report page, and the words for IVR outcomes and steps used on pages."""

from __future__ import annotations

from flask import render_template
from flask_babel import lazy_gettext as _l

from callcenter.extensions import db
from callcenter.services import ivr_reports
from callcenter.web.pages import pages
from callcenter.web.security import requires

# Outcomes, steps and flows as stored in ivr_calls, in the reader's language.
IVR_LABELS = {
    "reached": _l("Reached"),
    "confirmed": _l("Confirmed"),
    "change_requested": _l("Change requested"),
    "transferred": _l("Transferred to an agent"),
    "callback_scheduled": _l("Callback scheduled"),
    "answered": _l("Questions answered"),
    "no_input": _l("No input"),
    "wrong_input": _l("Wrong input"),
    "hung_up_early": _l("Hung up early"),
    "opted_out": _l("Opted out (pressed 9)"),
    "failed": _l("Failed on our side"),
    "start": _l("start"),
    "intro": _l("announcement"),
    "menu": _l("menu"),
    "transfer": _l("transfer"),
    "reminder": _l("Appointment reminder"),
    "questionnaire": _l("Keypad questionnaire"),
    "medication": _l("Medication check"),
}


def ivr_label(value) -> str:
    """The reader's word for an IVR outcome, step or flow; unknown values as they are."""
    key = str(value) if value is not None else ""
    return str(IVR_LABELS[key]) if key in IVR_LABELS else key


@pages.app_context_processor
def _ivr_helpers() -> dict:
    return {"ivr_label": ivr_label}


@pages.route("/campaigns/<int:campaign_id>/report")
@requires("ivr.reports")
def campaign_report(campaign_id: int):
    report = ivr_reports.campaign_report(db.session, campaign_id)
    calls = ivr_reports.recent_calls(db.session, campaign_id)
    return render_template("ivr/campaign_report.html", report=report, calls=calls)
