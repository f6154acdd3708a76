"""Admin pages: audit status, users and roles, trunks, campaigns from a patient filter, do-not-call.

Forms post back to the same page; a refused form is shown again with the reason next to the
field it concerns. Campaign and trunk input is validated by the API's own schemas.
"""

from __future__ import annotations

import copy
import json

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import select

from callcenter.errors import CallcenterError
from callcenter.extensions import db
from callcenter.models import Campaign, NumberFormat, Role, Sex, Tag, Trunk, User, utcnow
from callcenter.models.campaign import DEFAULT_RETRY_DELAYS, DEFAULT_WINDOWS
from callcenter.services import accounts, administration, audit
from callcenter.web.api.schemas import CampaignIn
from callcenter.web.api.telephony import TrunkIn
from callcenter.web.pages import pages
from callcenter.web.security import actor, current, requires


def _flatten(messages, where: str = "") -> list[str]:
    """Nested marshmallow messages as "where: message" lines (list items counted from 1)."""
    if isinstance(messages, dict):
        lines = []
        for key, value in messages.items():
            step = f"#{key + 1}" if isinstance(key, int) else str(key)
            lines += _flatten(value, f"{where} {step}".strip())
        return lines
    if isinstance(messages, list):
        return [line for m in messages for line in _flatten(m, where)]
    return [f"{where}: {messages}" if where else str(messages)]


def _field_errors(messages: dict) -> dict[str, str]:
    """One line per form field, saying where inside the field (e.g. which question) it is wrong."""
    return {field: "; ".join(_flatten(value)) for field, value in messages.items()}


def _error_of(exc: CallcenterError) -> dict[str, str]:
    field = exc.details.get("field", "form") if isinstance(exc.details, dict) else "form"
    return {field: exc.message}


@pages.route("/admin")
@requires("audit.read")
def admin_home():
    result = audit.verify(db.session)
    return render_template("admin/index.html", result=result)


# --- users -------------------------------------------------------------------------------------


@pages.route("/admin/users", methods=["GET", "POST"])
@requires("users.manage")
def admin_users():
    errors, form = {}, {}
    if request.method == "POST":
        form = request.form
        try:
            user = accounts.create_user(
                db.session,
                actor(),
                username=form.get("username", "").strip(),
                password=form.get("password", ""),
                role=Role(form.get("role", "")),
                display_name=form.get("display_name", "").strip() or None,
                sip_extension=form.get("sip_extension", "").strip() or None,
                language=form.get("language", "zh"),
            )
            db.session.commit()
            flash(_("User %(name)s created.", name=user.username), "ok")
            return redirect(url_for("pages.admin_users"))
        except ValueError:
            errors = {"role": _("Choose a role.")}
        except CallcenterError as exc:
            db.session.rollback()
            errors = _error_of(exc)
            if "password" in exc.message:
                errors = {"password": exc.message}
        if not form.get("username", "").strip():
            errors["username"] = _("Enter a user name.")
    users = db.session.scalars(select(User).order_by(User.role, User.username)).all()
    return render_template(
        "admin/users.html", users=users, roles=list(Role), errors=errors, form=form
    ), (422 if errors else 200)


@pages.route("/admin/users/<int:user_id>", methods=["POST"])
@requires("users.manage")
def admin_update_user(user_id: int):
    form = request.form
    try:
        user = accounts.update_user(
            db.session,
            current(),
            user_id,
            role=Role(form.get("role", "")),
            active=form.get("active") == "on",
        )
        db.session.commit()
        flash(_("Changes saved for %(name)s.", name=user.username), "ok")
    except ValueError:
        flash(_("Choose a role."), "error")
    except CallcenterError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("pages.admin_users"))


# --- trunks ------------------------------------------------------------------------------------


@pages.route("/admin/trunks", methods=["GET", "POST"])
@requires("trunks.manage")
def admin_trunks():
    errors, form = {}, {}
    if request.method == "POST":
        form = request.form
        raw = {k: v for k, v in form.items() if k != "csrf_token" and v != ""}
        raw["enabled"] = "enabled" in form
        try:
            # Checked here too: the schema's own message for this rule cannot be formatted
            # (its "{number}" is read as a placeholder), which would end in a 500.
            if "{number}" not in raw.get("dial_string", "{number}"):
                raise ValidationError(
                    {"dial_string": [_("The dial string must contain {number}.")]}
                )
            trunk = administration.create_trunk(db.session, current(), TrunkIn().load(raw))
            db.session.commit()
            flash(_("Trunk %(name)s added.", name=trunk.name), "ok")
            return redirect(url_for("pages.admin_trunks"))
        except ValidationError as exc:
            errors = _field_errors(exc.messages)
        except CallcenterError as exc:
            db.session.rollback()
            errors = _error_of(exc)
    trunks = db.session.scalars(select(Trunk).order_by(Trunk.name)).all()
    return render_template(
        "admin/trunks.html",
        trunks=trunks,
        formats=list(NumberFormat),
        errors=errors,
        form=form,
    ), (422 if errors else 200)


# --- campaigns ---------------------------------------------------------------------------------


def _json_field(form, name: str, errors: dict, default):
    text = form.get(name, "").strip()
    if not text:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        errors[name] = _(
            "Not valid JSON: %(reason)s (line %(line)s)", reason=exc.msg, line=exc.lineno
        )
        return default


def _optional_int(form, name: str, errors: dict) -> int | None:
    text = form.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit():
        errors[name] = _("Enter a whole number.")
        return None
    return int(text)


def _campaign_input(form) -> tuple[dict, administration.PatientFilter | None, dict]:
    errors: dict[str, str] = {}
    raw = {
        "name": form.get("name", "").strip(),
        "kind": form.get("kind", "agent"),
        "description": form.get("description", ""),
        "question_script": _json_field(form, "question_script", errors, []),
        "calling_windows": _json_field(form, "calling_windows", errors, DEFAULT_WINDOWS),
        "retry_delays": {
            key: _optional_int(form, f"retry_{key}", errors)
            for key in ("busy", "no_answer", "rejected")
        },
        "agent_ids": [int(v) for v in form.getlist("agent_ids") if v.isdigit()],
    }
    for name in ("max_attempts", "wrap_up_seconds", "trunk_id"):
        value = _optional_int(form, name, errors)
        if value is not None:
            raw[name] = value
    data = {}
    try:
        data = CampaignIn().load(raw)
    except ValidationError as exc:
        errors.update(_field_errors(exc.messages))
    sex = form.get("sex", "")
    flt = administration.PatientFilter(
        tag=form.get("tag", "").strip() or None,
        sex=Sex(sex) if sex in {s.value for s in Sex} else None,
        min_age=_optional_int(form, "min_age", errors),
        max_age=_optional_int(form, "max_age", errors),
        only_consenting="only_consenting" in form,
    )
    return data, flt, errors


@pages.route("/admin/campaigns", methods=["GET", "POST"])
@requires("campaigns.write")
def admin_campaigns():
    errors, form = {}, {}
    if request.method == "POST":
        form = request.form
        data, flt, errors = _campaign_input(form)
        if not errors:
            try:
                campaign, count = administration.create_campaign(
                    db.session, current(), data, flt, utcnow().date()
                )
                db.session.commit()
                flash(
                    _(
                        "Campaign %(name)s created with %(count)s tasks.",
                        name=campaign.name,
                        count=count,
                    ),
                    "ok",
                )
                return redirect(url_for("pages.admin_campaigns"))
            except CallcenterError as exc:
                db.session.rollback()
                errors = _error_of(exc)
    campaigns = db.session.scalars(select(Campaign).order_by(Campaign.created_at.desc())).all()
    return render_template(
        "admin/campaigns.html",
        campaigns=campaigns,
        tags=db.session.scalars(select(Tag.name).order_by(Tag.name)).all(),
        trunks=db.session.scalars(select(Trunk).order_by(Trunk.name)).all(),
        agents=db.session.scalars(
            select(User).where(User.role == Role.AGENT).order_by(User.display_name)
        ).all(),
        sexes=list(Sex),
        errors=errors,
        form=form,
        default_windows=json.dumps(DEFAULT_WINDOWS, indent=1),
        default_retry=copy.deepcopy(DEFAULT_RETRY_DELAYS),
        script_example=json.dumps(SCRIPT_EXAMPLE, indent=1, ensure_ascii=False),
    ), (422 if errors else 200)


SCRIPT_EXAMPLE = [
    {
        "key": "takes_medicine",
        "type": "yes_no",
        "text": {"zh": "您按时服药吗？", "en": "Do you take your medicine on time?"},
    },
    {
        "key": "bp",
        "type": "blood_pressure",
        "text": {"zh": "您最近的血压是多少？", "en": "What was your latest blood pressure?"},
    },
]


# --- do-not-call -------------------------------------------------------------------------------


@pages.route("/admin/do-not-call", methods=["GET", "POST"])
@requires("donotcall.manage")
def admin_do_not_call():
    errors, form = {}, {}
    if request.method == "POST":
        form = request.form
        adding = form.get("action", "add") == "add"
        try:
            patient = administration.set_do_not_call(
                db.session, current(), form.get("card_number", ""), adding, form.get("reason", "")
            )
            db.session.commit()
            message = (
                _("%(name)s is on the do-not-call list.", name=patient.name)
                if adding
                else _("%(name)s may be called again.", name=patient.name)
            )
            flash(message, "ok")
            return redirect(url_for("pages.admin_do_not_call"))
        except CallcenterError as exc:
            db.session.rollback()
            errors = _error_of(exc)
    page_number = max(request.args.get("page", 1, type=int), 1)
    listed = administration.do_not_call_list(db.session, current(), page=page_number)
    return render_template("admin/do_not_call.html", listed=listed, errors=errors, form=form), (
        422 if errors else 200
    )
