"""Trunks, campaign control and progress, calls, agent presence and click-to-call."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from callcenter.errors import Conflict, NotFound
from callcenter.extensions import db
from callcenter.models import AgentState, CallStatus, NumberFormat, Presence, Trunk, TrunkStatus
from callcenter.services import audit, calls, campaign_control, presence
from callcenter.telephony.dialer import DialSettings
from callcenter.web.api.common import PREFIX, page_body
from callcenter.web.api.schemas import PageArgs, PageMeta
from callcenter.web.security import actor, current, requires

blp = Blueprint(
    "telephony",
    __name__,
    url_prefix=PREFIX,
    description="Trunks, campaign control, calls and agent presence",
)


class TrunkIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    dial_string = fields.String(
        load_default="sofia/gateway/{gateway}/{number}",
        validate=validate.Regexp(r".*\{number\}.*", error="must contain {{number}}"),
    )
    gateway = fields.String(load_default="")
    number_format = fields.Enum(NumberFormat, by_value=True, load_default=NumberFormat.E164)
    caller_id_number = fields.String(load_default="")
    caller_id_name = fields.String(load_default="")
    max_concurrent = fields.Integer(load_default=30, validate=validate.Range(min=1, max=10_000))
    calls_per_second = fields.Float(load_default=10.0, validate=validate.Range(min=0.1, max=1000))
    node = fields.String(load_default="fs1")
    enabled = fields.Boolean(load_default=True)


class TrunkUpdateIn(Schema):
    """Every field optional and without defaults: a PATCH changes only what it names."""

    dial_string = fields.String(
        validate=validate.Regexp(r".*\{number\}.*", error="must contain {{number}}")
    )
    gateway = fields.String()
    number_format = fields.Enum(NumberFormat, by_value=True)
    caller_id_number = fields.String()
    caller_id_name = fields.String()
    max_concurrent = fields.Integer(validate=validate.Range(min=1, max=10_000))
    calls_per_second = fields.Float(validate=validate.Range(min=0.1, max=1000))
    node = fields.String()
    enabled = fields.Boolean()


class TrunkOut(TrunkIn):
    id = fields.Integer()
    status = fields.Enum(TrunkStatus, by_value=True)
    status_reason = fields.String(allow_none=True)


class ControlIn(Schema):
    reason = fields.String(load_default="")


class ProgressOut(Schema):
    campaign_id = fields.Integer()
    status = fields.String()
    status_reason = fields.String(allow_none=True)
    tasks = fields.Dict(keys=fields.String(), values=fields.Integer())
    calls = fields.Integer()
    answered = fields.Integer()
    answer_rate = fields.Float(allow_none=True)
    hangup_causes = fields.Dict(keys=fields.String(), values=fields.Integer())


class CallOut(Schema):
    id = fields.String()
    task_id = fields.Integer(allow_none=True)
    campaign_id = fields.Integer(allow_none=True)
    patient_id = fields.Integer(allow_none=True)
    agent_id = fields.Integer(allow_none=True)
    number = fields.String()
    status = fields.Enum(CallStatus, by_value=True)
    started_at = fields.DateTime()
    answered_at = fields.DateTime(allow_none=True)
    bridged_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    hangup_cause = fields.String(allow_none=True)
    billsec = fields.Integer(allow_none=True)
    recording_path = fields.String(allow_none=True)


class CallArgs(PageArgs):
    campaign_id = fields.Integer(load_default=None)
    status = fields.Enum(CallStatus, by_value=True, load_default=None)


class CallPage(Schema):
    items = fields.List(fields.Nested(CallOut))
    meta = fields.Nested(PageMeta)


class ClickToCallIn(Schema):
    patient_id = fields.Integer(required=True)
    task_id = fields.Integer(load_default=None)


class PresenceIn(Schema):
    state = fields.Enum(Presence, by_value=True, required=True)
    reason = fields.String(load_default="")


class PresenceOut(Schema):
    user_id = fields.Integer()
    state = fields.Enum(Presence, by_value=True)
    reason = fields.String()
    since = fields.DateTime()
    wrap_up_until = fields.DateTime(allow_none=True)
    call_id = fields.String(allow_none=True)


# --- trunks --------------------------------------------------------------------------------


@blp.route("/trunks")
@blp.response(200, TrunkOut(many=True))
@requires("trunks.read")
def list_trunks():
    """Every trunk with its limits and whether it is up."""
    return db.session.scalars(select(Trunk).order_by(Trunk.name)).all()


@blp.route("/trunks", methods=["POST"])
@blp.arguments(TrunkIn)
@blp.response(201, TrunkOut)
@requires("trunks.manage")
def create_trunk(data):
    """Add a trunk: a dial-string template (any FreeSWITCH endpoint) and its limits."""
    if db.session.scalar(select(Trunk.id).where(Trunk.name == data["name"])):
        raise Conflict(f"trunk {data['name']!r} already exists", {"field": "name"})
    trunk = Trunk(**data)
    db.session.add(trunk)
    db.session.flush()
    audit.append(db.session, actor(), "trunk.create", "trunk", trunk.id, {"name": trunk.name})
    db.session.commit()
    return trunk


@blp.route("/trunks/<int:trunk_id>", methods=["PATCH"])
@blp.arguments(TrunkUpdateIn)
@blp.response(200, TrunkOut)
@requires("trunks.manage")
def update_trunk(data, trunk_id: int):
    """Change a trunk's template or limits, or disable it."""
    trunk = db.session.get(Trunk, trunk_id)
    if trunk is None:
        raise NotFound(f"trunk {trunk_id} not found")
    for name, value in data.items():
        setattr(trunk, name, value)
    audit.append(db.session, actor(), "trunk.update", "trunk", trunk.id, {"fields": sorted(data)})
    db.session.commit()
    return trunk


# --- campaign control ------------------------------------------------------------------------


def _control(verb: str, campaign_id: int, data: dict):
    campaign_control.control(db.session, current(), campaign_id, verb, data["reason"])
    db.session.commit()
    return campaign_control.progress(db.session, current(), campaign_id)


@blp.route("/campaigns/<int:campaign_id>/start", methods=["POST"])
@blp.arguments(ControlIn)
@blp.response(200, ProgressOut)
@requires("campaigns.control")
def start_campaign(data, campaign_id: int):
    """Start dialling the campaign's due tasks."""
    return _control("start", campaign_id, data)


@blp.route("/campaigns/<int:campaign_id>/pause", methods=["POST"])
@blp.arguments(ControlIn)
@blp.response(200, ProgressOut)
@requires("campaigns.control")
def pause_campaign(data, campaign_id: int):
    """Stop placing new calls for now; calls in progress go on."""
    return _control("pause", campaign_id, data)


@blp.route("/campaigns/<int:campaign_id>/resume", methods=["POST"])
@blp.arguments(ControlIn)
@blp.response(200, ProgressOut)
@requires("campaigns.control")
def resume_campaign(data, campaign_id: int):
    """Carry on after a pause."""
    return _control("resume", campaign_id, data)


@blp.route("/campaigns/<int:campaign_id>/stop", methods=["POST"])
@blp.arguments(ControlIn)
@blp.response(200, ProgressOut)
@requires("campaigns.control")
def stop_campaign(data, campaign_id: int):
    """End the campaign: waiting tasks are cancelled, calls in progress finish."""
    return _control("stop", campaign_id, data)


@blp.route("/campaigns/<int:campaign_id>/progress")
@blp.response(200, ProgressOut)
@requires("campaigns.read")
def campaign_progress(campaign_id: int):
    """Tasks by state, calls by hangup cause, answer rate."""
    return campaign_control.progress(db.session, current(), campaign_id)


# --- calls ---------------------------------------------------------------------------------


def _bus():
    return current_app.extensions["callcenter.commands"]


@blp.route("/calls")
@blp.arguments(CallArgs, location="query")
@blp.response(200, CallPage)
@requires("calls.read")
def list_calls(args):
    """Calls, newest first (agents: their own)."""
    return page_body(calls.list_calls(db.session, current(), **args))


@blp.route("/calls", methods=["POST"])
@blp.arguments(ClickToCallIn)
@blp.response(202, CallOut)
@requires("calls.place")
def click_to_call(data):
    """Click-to-call: your phone rings first, then the patient's."""
    settings = DialSettings.from_config(current_app.config)
    return calls.click_to_call(
        db.session, _bus(), current(), data["patient_id"], data["task_id"], settings
    )


@blp.route("/calls/<call_id>")
@blp.response(200, CallOut)
@requires("calls.read")
def get_call(call_id: str):
    """One call attempt."""
    return calls.get(db.session, current(), call_id)


@blp.route("/calls/<call_id>/hangup", methods=["POST"])
@blp.response(202, CallOut)
@requires("calls.hangup")
def hang_up(call_id: str):
    """Hang up a call in progress."""
    return calls.hang_up(db.session, _bus(), current(), call_id)


# --- presence ------------------------------------------------------------------------------


@blp.route("/presence")
@blp.response(200, PresenceOut(many=True))
@requires("presence.read")
def list_presence():
    """Every agent's state (the wallboard)."""
    return db.session.scalars(select(AgentState).order_by(AgentState.user_id)).all()


@blp.route("/presence/me")
@blp.response(200, PresenceOut)
@requires("presence.self")
def my_presence():
    """Your own state."""
    state = presence.state_of(db.session, current().id)
    db.session.commit()
    return state


@blp.route("/presence/me", methods=["PUT"])
@blp.arguments(PresenceIn)
@blp.response(200, PresenceOut)
@requires("presence.self")
def set_my_presence(data):
    """Go ready, pause (with a reason) or log out."""
    state = presence.choose(db.session, current(), data["state"], data["reason"])
    db.session.commit()
    return state
