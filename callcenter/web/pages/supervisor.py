"""Supervisor pages: the wallboard, the recordings list, the player and who accessed a recording.

Audio is played through the API's range-streaming endpoint (``/api/v1/recordings/<id>/audio``),
which audits every play and download; opening the player audits a ``recording.viewed``.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import Campaign, Disposition, Role, User, utcnow
from callcenter.services import recordings_catalog, transcripts, wallboard
from callcenter.services.masking import mask_phone
from callcenter.web.i18n import label
from callcenter.web.pages import pages
from callcenter.web.pages.desk import PAUSE_REASONS
from callcenter.web.security import current, requires

PER_PAGE = 25


class FilterArgs:
    """Read optional filter fields from a query string, collecting a message per bad field."""

    def __init__(self, args):
        self.args = args
        self.errors: dict[str, str] = {}

    def text(self, name: str, max_length: int = 200) -> str:
        value = self.args.get(name, "").strip()
        if len(value) > max_length:
            self.errors[name] = _("At most %(n)s characters.", n=max_length)
            return ""
        return value

    def integer(self, name: str) -> int | None:
        raw = self.args.get(name, "").strip()
        if not raw:
            return None
        if not raw.isdigit():
            self.errors[name] = _("Choose from the list.")
            return None
        return int(raw)

    def number(self, name: str) -> float | None:
        raw = self.args.get(name, "").strip()
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if value < 0:
            self.errors[name] = _("Enter a number of seconds, 0 or more.")
            return None
        return value

    def day(self, name: str, *, end: bool = False) -> datetime | None:
        """A YYYY-MM-DD day in the clinic's timezone; ``end`` gives the next midnight."""
        raw = self.args.get(name, "").strip()
        if not raw:
            return None
        try:
            day = datetime.strptime(raw, "%Y-%m-%d").date()
        except ValueError:
            self.errors[name] = _("Enter a date as YYYY-MM-DD.")
            return None
        zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
        return datetime.combine(day + timedelta(days=1) if end else day, time(0), tzinfo=zone)

    def choice(self, name: str, enum_cls):
        raw = self.args.get(name, "").strip()
        if not raw:
            return None
        try:
            return enum_cls(raw)
        except ValueError:
            self.errors[name] = _("Choose from the list.")
            return None


def filter_choices() -> dict:
    """Campaigns and agents for the filter drop-downs."""
    return {
        "campaigns": db.session.execute(
            select(Campaign.id, Campaign.name).order_by(Campaign.name)
        ).all(),
        "agents": db.session.execute(
            select(User.id, User.display_name)
            .where(User.role == Role.AGENT)
            .order_by(User.display_name)
        ).all(),
    }


def clock(seconds: float | None) -> str:
    """Seconds as m:ss (or h:mm:ss) for durations and offsets."""
    if seconds is None:
        return ""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@pages.app_template_filter("clock")
def _clock_filter(seconds):
    return clock(seconds)


# --- wallboard ---------------------------------------------------------------------------------


@pages.route("/supervisor/wallboard")
@requires("wallboard.read")
def wallboard_page():
    board = wallboard.snapshot(db.session, current(), utcnow())
    return render_template("supervisor/wallboard.html", board=board)


@pages.route("/supervisor/wallboard/live")
@requires("wallboard.read")
def wallboard_live():
    """The wallboard's body alone; the page polls it every two seconds."""
    board = wallboard.snapshot(db.session, current(), utcnow())
    return render_template("supervisor/_wallboard_body.html", board=board)


# --- recordings --------------------------------------------------------------------------------


def _recording_filters(args) -> tuple[recordings_catalog.Filters, dict[str, str]]:
    read = FilterArgs(args)
    filters = recordings_catalog.Filters(
        campaign_id=read.integer("campaign_id"),
        agent_id=read.integer("agent_id"),
        patient_id=read.integer("patient_id"),
        patient=read.text("patient"),
        started_from=read.day("from"),
        started_to=read.day("to", end=True),
        disposition=read.choice("disposition", Disposition),
        min_seconds=read.number("min_seconds"),
        max_seconds=read.number("max_seconds"),
    )
    return filters, read.errors


@pages.route("/recordings")
@requires("recordings.read")
def recording_list():
    filters, errors = _recording_filters(request.args)
    page_number = max(request.args.get("page", 1, type=int), 1)
    result = None
    if not errors:
        result = recordings_catalog.list_recordings(
            db.session, current(), filters, page=page_number, per_page=PER_PAGE
        )
    query = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "supervisor/recordings.html",
        result=result,
        errors=errors,
        args=request.args,
        query=query,
        dispositions=list(Disposition),
        **filter_choices(),
    ), (400 if errors else 200)


@pages.route("/recordings/<int:recording_id>")
@requires("recordings.play")
def recording_player(recording_id: int):
    user = current()
    view = recordings_catalog.view(db.session, user, recording_id)
    transcript = transcripts.read_transcript(db.session, user, recording_id)
    db.session.commit()
    start = request.args.get("t", 0.0, type=float) or 0.0
    return render_template(
        "supervisor/player.html",
        view=view,
        row=view.row,
        segments=transcript.segments,
        start=max(start, 0.0),
        seekable=True,
        highlight_at=None,
        audio_url=f"/api/v1/recordings/{recording_id}/audio",
        peaks_url=f"/api/v1/recordings/{recording_id}/peaks",
        mask_phone=mask_phone,
    )


@pages.route("/recordings/<int:recording_id>/accesses")
@requires("recordings.read")
def recording_accesses(recording_id: int):
    entries = recordings_catalog.accesses(db.session, current(), recording_id)
    return render_template("supervisor/accesses.html", recording_id=recording_id, entries=entries)


# Words for stored values the shell's ``label`` filter does not know (campaign and call states).
STATUS_LABELS = {
    "draft": _l("Draft"),
    "running": _l("Running"),
    "paused": _l("Paused"),
    "stopped": _l("Stopped"),
    "completed": _l("Completed"),
    "queued": _l("Queued"),
    "dialing": _l("Dialling"),
    "answered": _l("Answered"),
    "bridged": _l("Talking"),
    "ended": _l("Ended"),
    "pending": _l("Pending"),
    "processing": _l("Processing"),
    "ready": _l("Ready"),
    "failed": _l("Failed"),
    "patient": _l("Patient"),
    "clinic": _l("Clinic"),
}


@pages.app_template_filter("status_label")
def status_label(value) -> str:
    key = str(value) if value is not None else ""
    if key in STATUS_LABELS:
        return str(STATUS_LABELS[key])
    if key in PAUSE_REASONS:
        return str(PAUSE_REASONS[key])
    return label(key)


# What each ledger action on a recording means, for the "who accessed" page.
ACCESS_LABELS = {
    "recording.viewed": _l("Opened the player"),
    "recording.played": _l("Played"),
    "recording.downloaded": _l("Downloaded"),
    "recording.read": _l("Read the transcript"),
    "recording.stored": _l("Stored encrypted"),
    "recording.requeue": _l("Queued for processing again"),
    "recording.integrity_failed": _l("Failed its integrity check"),
}


@pages.app_template_filter("access_label")
def access_label(action: str) -> str:
    return str(ACCESS_LABELS.get(action, action))
