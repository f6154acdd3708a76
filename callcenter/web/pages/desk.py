"""The agent desk: presence, the queue, click-to-call, the screen pop and the follow-up log.

The page is server-rendered; htmx swaps fragments (``desk/_*.html``). ``desk.js`` listens to the
agent's Server-Sent Events and, on ``call.bridged``, fetches ``/desk/pop/<call id>``.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from callcenter.errors import CallcenterError, Conflict, InvalidInput
from callcenter.extensions import db
from callcenter.models import Disposition, Presence, utcnow
from callcenter.services import calls, desk, followup_logs, presence
from callcenter.services.indicators import CATALOG
from callcenter.services.masking import mask_phone
from callcenter.telephony.dialer import DialSettings
from callcenter.web.i18n import current_language
from callcenter.web.pages import pages
from callcenter.web.security import current, requires

PAUSE_REASONS = {
    "break": _l("Break"),
    "meal": _l("Meal"),
    "training": _l("Training"),
    "meeting": _l("Meeting"),
    "paperwork": _l("Paperwork"),
}
# Messages for the follow-up form, by the stable problem codes of services.followup_logs.
PROBLEMS = {
    "disposition": _l("Choose how the call ended."),
    "yes_no": _l("Answer yes or no."),
    "choice": _l("Pick one of the choices."),
    "number": _l("Enter a number."),
    "blood_pressure": _l("Enter the blood pressure as systolic/diastolic, e.g. 135/85."),
    "past_date": _l("The date is in the past."),
    "past_time": _l("The callback time has passed."),
    "no_campaign": _l("A callback needs a campaign call."),
    "bad_date": _l("Enter a date as YYYY-MM-DD."),
    "bad_time": _l("Enter a date and time."),
}


def indicator_name(code: str, fallback: str = "") -> str:
    known = CATALOG.get(code)
    if known is None:
        return fallback or code
    return known.name_zh if current_language() == "zh" else known.name_en


def _render(template: str, **context):
    return render_template(
        template,
        mask_phone=mask_phone,
        indicator_name=indicator_name,
        pause_reasons=PAUSE_REASONS,
        dispositions=list(Disposition),
        **context,
    )


@pages.route("/desk")
@requires("presence.self")
def desk_page():
    agent = current()
    state = presence.state_of(db.session, agent.id)
    now = utcnow()
    pop = None
    if state.call_id and state.state is Presence.IN_CALL:
        pop = desk.screen_pop(db.session, agent, state.call_id, now)  # a reload mid-call
    queue = desk.agent_queue(db.session, agent, now)
    page = _render("desk/index.html", state=state, queue=queue, pop=pop, now=now)
    if pop is not None:
        desk.audit_screen_pop(db.session, agent, pop)
    db.session.commit()
    return page


@pages.route("/desk/presence")
@requires("presence.self")
def desk_presence():
    state = presence.state_of(db.session, current().id)
    db.session.commit()
    return _render("desk/_presence.html", state=state, now=utcnow())


@pages.route("/desk/presence", methods=["POST"])
@requires("presence.self")
def desk_set_presence():
    error = None
    wanted = request.form.get("state", "")
    reason = request.form.get("reason", "").strip()
    try:
        new = Presence(wanted)
        if new is Presence.PAUSED and not reason:
            error = _("Choose a reason for the pause.")
        else:
            presence.choose(db.session, current(), new, reason)
            db.session.commit()
    except ValueError:
        error = _("Unknown state: %(state)s", state=wanted)
    except Conflict:
        db.session.rollback()
        error = _("You cannot change your state during a call.")
    except InvalidInput as exc:
        db.session.rollback()
        error = exc.message
    state = presence.state_of(db.session, current().id)
    db.session.commit()
    return _render("desk/_presence.html", state=state, now=utcnow(), error=error)


@pages.route("/desk/queue")
@requires("presence.self")
def desk_queue():
    queue = desk.agent_queue(db.session, current(), utcnow())
    return _render("desk/_queue.html", queue=queue, now=utcnow())


@pages.route("/desk/call", methods=["POST"])
@requires("calls.place")
def desk_click_to_call():
    patient_id = request.form.get("patient_id", type=int)
    task_id = request.form.get("task_id", type=int)
    if patient_id is None:
        return _render("desk/_call_started.html", error=_("No patient was given."))
    try:
        call = calls.click_to_call(
            db.session,
            current_app.extensions["callcenter.commands"],
            current(),
            patient_id,
            task_id,
            DialSettings.from_config(current_app.config),
        )
    except CallcenterError as exc:
        db.session.rollback()
        return _render("desk/_call_started.html", error=exc.message)
    return _render("desk/_call_started.html", call=call)


@pages.route("/desk/pop/<call_id>")
@requires("presence.self")
def desk_pop(call_id: str):
    agent = current()
    pop = desk.screen_pop(db.session, agent, call_id, utcnow())
    # Rendered before the commit (nothing expires and is loaded again), audited last (see
    # desk.screen_pop); if the commit fails, the page is never sent.
    page = _render("desk/_pop.html", pop=pop)
    desk.audit_screen_pop(db.session, agent, pop)
    db.session.commit()
    return page


def _parse_date(text: str, problems: dict) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        problems["next_follow_up_on"] = PROBLEMS["bad_date"]
        return None


def _parse_local_time(text: str, problems: dict) -> datetime | None:
    """A datetime-local field, read in the clinic's timezone."""
    if not text.strip():
        return None
    try:
        naive = datetime.fromisoformat(text.strip())
    except ValueError:
        problems["callback_at"] = PROBLEMS["bad_time"]
        return None
    return naive.replace(tzinfo=ZoneInfo(current_app.config["DEFAULT_TIMEZONE"]))


@pages.route("/desk/log", methods=["POST"])
@requires("presence.self")
def desk_save_log():
    form = request.form
    call_id = form.get("call_id", "")
    problems: dict[str, str] = {}
    data = followup_logs.LogInput(
        call_id=call_id,
        disposition=form.get("disposition", ""),
        answers={k.removeprefix("q_"): v for k, v in form.items() if k.startswith("q_")},
        notes=form.get("notes", ""),
        next_follow_up_on=_parse_date(form.get("next_follow_up_on", ""), problems),
        callback_at=_parse_local_time(form.get("callback_at", ""), problems),
    )
    log = None
    if not problems:
        try:
            log = followup_logs.save(db.session, current(), data, utcnow())
            db.session.commit()
        except InvalidInput as exc:
            db.session.rollback()
            for problem in exc.details.get("problems", []):
                problems[problem["field"]] = PROBLEMS.get(problem["code"], problem["message"])
            if not problems:
                problems["form"] = exc.message
        except Conflict as exc:
            db.session.rollback()
            problems["form"] = _("This call already has a saved follow-up log.")
            current_app.logger.info("log not saved: %s", exc.message)
    if log is not None:
        response = _render("desk/_log_saved.html", log=log)
        return response, 200, {"HX-Trigger": "desk-refresh"}
    log_form = desk.log_form(db.session, current(), call_id)
    return _render("desk/_log_form.html", form=log_form, problems=problems, values=form)
