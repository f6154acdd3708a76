"""Marshmallow schemas: what the API accepts and returns, and the source of its OpenAPI document."""

from __future__ import annotations

import re
import zoneinfo

from marshmallow import Schema, ValidationError, fields, validate, validates

from callcenter.config import LANGUAGES
from callcenter.models import (
    CampaignKind,
    CampaignStatus,
    ConsentMethod,
    ObservationSource,
    Role,
    Sex,
    TagSource,
    TaskState,
)

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _check_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not an IANA timezone") from exc


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=200))


class PageMeta(Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    total_capped = fields.Boolean(
        metadata={"description": "true when more than `total` matched (counting stopped)"}
    )


# --- patients ---------------------------------------------------------------------------


class PatientSearchArgs(PageArgs):
    q = fields.String(load_default="", metadata={"description": "name prefix, card, or phone"})
    tag = fields.String(load_default=None)


class TagRef(Schema):
    id = fields.Integer()
    name = fields.String()
    colour = fields.String()


class PatientOut(Schema):
    id = fields.Integer()
    card_number = fields.String()
    name = fields.String()
    sex = fields.Enum(Sex, by_value=True)
    birth_date = fields.Date(allow_none=True)
    phones = fields.Method("_phones")
    timezone = fields.String()
    language = fields.String()
    consent_call = fields.Boolean()
    consent_call_at = fields.DateTime(allow_none=True)
    consent_call_method = fields.Enum(ConsentMethod, by_value=True, allow_none=True)
    consent_record = fields.Boolean()
    consent_record_at = fields.DateTime(allow_none=True)
    consent_record_method = fields.Enum(ConsentMethod, by_value=True, allow_none=True)
    do_not_call = fields.Boolean()
    do_not_call_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    def _phones(self, patient) -> list[str]:
        return [p.number for p in patient.phones]


class PatientDetailOut(PatientOut):
    tags = fields.List(fields.Nested(TagRef))


class PatientPage(Schema):
    items = fields.List(fields.Nested(PatientOut))
    meta = fields.Nested(PageMeta)


class PatientUpdateIn(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    sex = fields.Enum(Sex, by_value=True)
    birth_date = fields.Date(allow_none=True)
    phones = fields.List(fields.String(), metadata={"description": "any format; stored E.164"})
    timezone = fields.String()
    language = fields.String(validate=validate.OneOf(LANGUAGES))
    id_number = fields.String(allow_none=True, validate=validate.Length(max=64))
    consent_call = fields.Boolean()
    consent_call_method = fields.Enum(ConsentMethod, by_value=True)
    consent_record = fields.Boolean()
    consent_record_method = fields.Enum(ConsentMethod, by_value=True)
    do_not_call = fields.Boolean()
    do_not_call_reason = fields.String(allow_none=True)

    @validates("timezone")
    def _timezone(self, value: str, **_kwargs) -> None:
        _check_timezone(value)


class PatientCreateIn(PatientUpdateIn):
    card_number = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


# --- health data ------------------------------------------------------------------------


class ObservationIn(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(validate=validate.Length(max=120))
    value = fields.Float(required=True, allow_nan=False)
    unit = fields.String(validate=validate.Length(max=32))
    ref_low = fields.Float(allow_none=True, allow_nan=False)
    ref_high = fields.Float(allow_none=True, allow_nan=False)
    taken_at = fields.AwareDateTime(required=True, default_timezone=None)
    source = fields.Enum(ObservationSource, by_value=True, load_default=ObservationSource.MANUAL)


class ObservationOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    value = fields.Float()
    unit = fields.String()
    ref_low = fields.Float(allow_none=True)
    ref_high = fields.Float(allow_none=True)
    out_of_range = fields.Boolean()
    taken_at = fields.DateTime()
    source = fields.Enum(ObservationSource, by_value=True)


class ObservationArgs(PageArgs):
    code = fields.String(load_default=None)


class ObservationPage(Schema):
    items = fields.List(fields.Nested(ObservationOut))
    meta = fields.Nested(PageMeta)


# --- tags -------------------------------------------------------------------------------


class TagIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    colour = fields.String(load_default="#6b7280", validate=validate.Regexp(HEX_COLOUR))
    source = fields.Enum(TagSource, by_value=True, load_default=TagSource.MANUAL)


class TagOut(TagRef):
    source = fields.Enum(TagSource, by_value=True)
    patients = fields.Integer()


class PatientTagIn(Schema):
    tag = fields.String(required=True, metadata={"description": "tag name"})


# --- campaigns and tasks ----------------------------------------------------------------


class WindowSchema(Schema):
    days = fields.List(
        fields.Integer(validate=validate.Range(min=0, max=6)),
        required=True,
        metadata={"description": "0 = Monday"},
    )
    start = fields.String(required=True, validate=validate.Regexp(HHMM))
    end = fields.String(required=True, validate=validate.Regexp(HHMM))


class RetryDelaysSchema(Schema):
    busy = fields.Integer(allow_none=True, validate=validate.Range(min=0))
    no_answer = fields.Integer(allow_none=True, validate=validate.Range(min=0))
    rejected = fields.Integer(allow_none=True, validate=validate.Range(min=0))
    invalid = fields.Integer(allow_none=True, validate=validate.Range(min=0))


class QuestionSchema(Schema):
    key = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,40}$"))
    text = fields.Dict(
        keys=fields.String(validate=validate.OneOf(LANGUAGES)), values=fields.String()
    )
    type = fields.String(
        required=True,
        validate=validate.OneOf(["yes_no", "choice", "number", "text", "blood_pressure"]),
    )
    choices = fields.List(fields.String())
    indicator_code = fields.String(allow_none=True)


class CampaignIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.Enum(CampaignKind, by_value=True, required=True)
    description = fields.String(load_default="")
    calling_windows = fields.List(fields.Nested(WindowSchema))
    retry_delays = fields.Nested(RetryDelaysSchema)
    max_attempts = fields.Integer(load_default=3, validate=validate.Range(min=1, max=20))
    question_script = fields.List(fields.Nested(QuestionSchema), load_default=list)
    agent_ids = fields.List(fields.Integer(), load_default=list)
    trunk_id = fields.Integer(allow_none=True, load_default=None)
    max_concurrent = fields.Integer(load_default=10, validate=validate.Range(min=1, max=10_000))
    calls_per_second = fields.Float(load_default=5.0, validate=validate.Range(min=0.1, max=1000))
    wrap_up_seconds = fields.Integer(load_default=30, validate=validate.Range(min=0, max=3600))


class CampaignOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.Enum(CampaignKind, by_value=True)
    status = fields.Enum(CampaignStatus, by_value=True)
    description = fields.String()
    calling_windows = fields.List(fields.Nested(WindowSchema))
    retry_delays = fields.Nested(RetryDelaysSchema)
    max_attempts = fields.Integer()
    question_script = fields.List(fields.Nested(QuestionSchema))
    agent_ids = fields.Method("_agent_ids")
    trunk_id = fields.Integer(allow_none=True)
    max_concurrent = fields.Integer()
    calls_per_second = fields.Float()
    wrap_up_seconds = fields.Integer()
    status_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()

    def _agent_ids(self, campaign) -> list[int]:
        return sorted(a.user_id for a in campaign.agents)


class CampaignPage(Schema):
    items = fields.List(fields.Nested(CampaignOut))
    meta = fields.Nested(PageMeta)


class TaskIn(Schema):
    campaign_id = fields.Integer(required=True)
    patient_id = fields.Integer(required=True)
    due_at = fields.AwareDateTime(allow_none=True, default_timezone=None)
    priority = fields.Integer(load_default=0)
    reason = fields.String(load_default="")
    assigned_agent_id = fields.Integer(allow_none=True)


class TaskArgs(PageArgs):
    campaign_id = fields.Integer(load_default=None)
    state = fields.Enum(TaskState, by_value=True, load_default=None)
    patient_id = fields.Integer(load_default=None)


class TaskOut(Schema):
    id = fields.Integer()
    campaign_id = fields.Integer()
    patient_id = fields.Integer()
    assigned_agent_id = fields.Integer(allow_none=True)
    state = fields.Enum(TaskState, by_value=True)
    priority = fields.Integer()
    reason = fields.String()
    due_at = fields.DateTime(allow_none=True)
    attempts = fields.Integer()
    last_hangup_cause = fields.String(allow_none=True)
    failure_reason = fields.String(allow_none=True)
    state_changed_at = fields.DateTime()
    created_at = fields.DateTime()


class TaskPage(Schema):
    items = fields.List(fields.Nested(TaskOut))
    meta = fields.Nested(PageMeta)


# --- users ------------------------------------------------------------------------------


class UserIn(Schema):
    username = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.-]{2,64}$"))
    display_name = fields.String(validate=validate.Length(max=120))
    role = fields.Enum(Role, by_value=True, required=True)
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=10))
    sip_extension = fields.String(allow_none=True, validate=validate.Regexp(r"^\d{2,10}$"))
    language = fields.String(load_default="zh", validate=validate.OneOf(LANGUAGES))


class UserUpdateIn(Schema):
    display_name = fields.String(validate=validate.Length(max=120))
    role = fields.Enum(Role, by_value=True)
    password = fields.String(load_only=True, validate=validate.Length(min=10))
    sip_extension = fields.String(allow_none=True, validate=validate.Regexp(r"^\d{2,10}$"))
    language = fields.String(validate=validate.OneOf(LANGUAGES))
    active = fields.Boolean()


class UserOut(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    role = fields.Enum(Role, by_value=True)
    sip_extension = fields.String(allow_none=True)
    language = fields.String()
    active = fields.Boolean()
    created_at = fields.DateTime()


class UserPage(Schema):
    items = fields.List(fields.Nested(UserOut))
    meta = fields.Nested(PageMeta)


class ErrorOut(Schema):
    error_id = fields.String()
    message = fields.String()
    details = fields.Raw()
