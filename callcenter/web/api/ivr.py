"""Automated calls: campaign IVR settings, prompt texts and recordings, appointments, results."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from callcenter.extensions import db
from callcenter.models.ivr import IvrFlow
from callcenter.services import ivr_admin, ivr_reports
from callcenter.web.api.common import PREFIX
from callcenter.web.security import current, requires
from ivr.prompts import store_from_config

blp = Blueprint(
    "ivr",
    __name__,
    url_prefix=PREFIX,
    description="Automated (IVR) calls: settings, prompts, appointments and their results",
)


class IvrSettingsIn(Schema):
    flow = fields.Enum(IvrFlow, by_value=True)
    clinic_name = fields.String(validate=validate.Length(max=200))
    transfer_wait_seconds = fields.Integer(
        validate=validate.Range(min=0, max=600),
        metadata={"description": "how long a patient who pressed 0 waits for a ready agent"},
    )
    callback_campaign_id = fields.Integer(allow_none=True)


class IvrSettingsOut(IvrSettingsIn):
    campaign_id = fields.Integer()


class PromptOut(Schema):
    key = fields.String()
    language = fields.String()
    text = fields.String(metadata={"description": "what is said: the campaign's or the default"})
    default_text = fields.String()
    custom_text = fields.Boolean()
    audio = fields.Boolean(metadata={"description": "an uploaded recording is played instead"})
    audio_sha256 = fields.String(allow_none=True)
    placeholders = fields.List(fields.String())


class PromptList(Schema):
    items = fields.List(fields.Nested(PromptOut))


class PromptArgs(Schema):
    language = fields.String(load_default=None, validate=validate.OneOf(ivr_admin.LANGUAGES))


class PromptTextIn(Schema):
    text = fields.String(
        required=True,
        allow_none=True,
        validate=validate.Length(max=2000),
        metadata={"description": "empty or null: back to the default text"},
    )


class PromptUpload(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class AppointmentIn(Schema):
    starts_at = fields.AwareDateTime(required=True, default_timezone=None)
    place = fields.String(load_default="", validate=validate.Length(max=200))


class AppointmentOut(Schema):
    task_id = fields.Integer()
    starts_at = fields.DateTime()
    place = fields.String()


class IvrReportOut(Schema):
    campaign_id = fields.Integer()
    campaign_name = fields.String()
    calls = fields.Integer()
    reached = fields.Integer(metadata={"description": "calls on which the flow ran"})
    patients_reached = fields.Integer()
    outcomes = fields.Dict(keys=fields.String(), values=fields.Integer())
    hung_up_early_by_step = fields.Dict(keys=fields.String(), values=fields.Integer())
    tasks = fields.Dict(keys=fields.String(), values=fields.Integer())
    answers = fields.Dict()


class IvrCallOut(Schema):
    id = fields.Integer()
    call_id = fields.String()
    campaign_id = fields.Integer(allow_none=True)
    campaign_name = fields.String(allow_none=True)
    task_id = fields.Integer(allow_none=True)
    flow = fields.String()
    language = fields.String()
    outcome = fields.String()
    step = fields.String()
    keypad_trail = fields.List(fields.Dict())
    answers = fields.Dict(allow_none=True)
    detail = fields.String()
    callback_task_id = fields.Integer(allow_none=True)
    recording_id = fields.Integer(allow_none=True)
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)


class IvrHistory(Schema):
    items = fields.List(fields.Nested(IvrCallOut))


@blp.route("/campaigns/<int:campaign_id>/ivr")
@blp.response(200, IvrSettingsOut)
@requires("ivr.manage")
def get_settings(campaign_id: int):
    """The IVR campaign's flow, clinic name, transfer wait and callback campaign."""
    return ivr_admin.get_settings(db.session, campaign_id)


@blp.route("/campaigns/<int:campaign_id>/ivr", methods=["PUT"])
@blp.arguments(IvrSettingsIn)
@blp.response(200, IvrSettingsOut)
@requires("ivr.manage")
def put_settings(data, campaign_id: int):
    """Change the IVR campaign's settings (fields left out keep their value)."""
    settings = ivr_admin.put_settings(db.session, current(), campaign_id, data)
    db.session.commit()
    return settings


@blp.route("/campaigns/<int:campaign_id>/ivr/prompts")
@blp.arguments(PromptArgs, location="query")
@blp.response(200, PromptList)
@requires("ivr.manage")
def list_prompts(args, campaign_id: int):
    """Every prompt with the text it is said with, per language."""
    return {"items": ivr_admin.list_prompts(db.session, campaign_id, args["language"])}


@blp.route("/campaigns/<int:campaign_id>/ivr/prompts/<language>/<key>")
@blp.response(200, PromptOut)
@requires("ivr.manage")
def get_prompt(campaign_id: int, language: str, key: str):
    """One prompt in one language."""
    return ivr_admin.get_prompt(db.session, campaign_id, language, key)


@blp.route("/campaigns/<int:campaign_id>/ivr/prompts/<language>/<key>", methods=["PUT"])
@blp.arguments(PromptTextIn)
@blp.response(200, PromptOut)
@requires("ivr.manage")
def put_prompt(data, campaign_id: int, language: str, key: str):
    """Say this prompt with another text; placeholders such as {clinic} must be the default's."""
    prompt = ivr_admin.put_prompt_text(
        db.session, current(), campaign_id, language, key, data["text"]
    )
    db.session.commit()
    return prompt


@blp.route("/campaigns/<int:campaign_id>/ivr/prompts/<language>/<key>/audio", methods=["POST"])
@blp.arguments(PromptUpload, location="files")
@blp.response(200, PromptOut)
@requires("ivr.manage")
def upload_prompt_audio(files, campaign_id: int, language: str, key: str):
    """Upload a recorded prompt (WAV); it is played instead of synthesized speech."""
    prompt = ivr_admin.upload_prompt_audio(
        db.session,
        current(),
        store_from_config(current_app.config),
        campaign_id,
        language,
        key,
        files["file"].read(),
    )
    db.session.commit()
    return prompt


@blp.route("/tasks/<int:task_id>/appointment")
@blp.response(200, AppointmentOut)
@requires("ivr.manage")
def get_appointment(task_id: int):
    """The appointment a reminder task is about."""
    return ivr_admin.get_appointment(db.session, task_id)


@blp.route("/tasks/<int:task_id>/appointment", methods=["PUT"])
@blp.arguments(AppointmentIn)
@blp.response(200, AppointmentOut)
@requires("ivr.manage")
def put_appointment(data, task_id: int):
    """Set the appointment time (with its UTC offset) and place of a reminder task."""
    row = ivr_admin.put_appointment(db.session, current(), task_id, **data)
    db.session.commit()
    return row


@blp.route("/campaigns/<int:campaign_id>/ivr/report")
@blp.response(200, IvrReportOut)
@requires("ivr.reports")
def campaign_report(campaign_id: int):
    """Outcome counts, early hang-ups by step and a summary of keypad answers."""
    return ivr_reports.campaign_report(db.session, campaign_id)


@blp.route("/patients/<int:patient_id>/ivr-calls")
@blp.response(200, IvrHistory)
@requires("patients.read")
def patient_history(patient_id: int):
    """The patient's automated calls: outcome, step, keys pressed, recording."""
    items = ivr_reports.patient_history(db.session, current(), patient_id)
    db.session.commit()  # the audit entry of the read
    return {"items": items}
