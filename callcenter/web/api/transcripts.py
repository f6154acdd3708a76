"""Transcript search for QA, a recording's transcript, and failed recordings to re-queue."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate

from callcenter.extensions import db
from callcenter.models import RecordingStatus, Speaker
from callcenter.services import transcript_search, transcripts
from callcenter.web.api.common import PREFIX, setting
from callcenter.web.security import current, requires

blp = Blueprint(
    "transcripts",
    __name__,
    url_prefix=PREFIX,
    description="Transcript search, transcripts of recordings, failed recordings",
)


class DayOrMoment(fields.Field):
    """An ISO 8601 date (a whole day in the clinic's timezone) or date-time (naive = UTC)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("give a date (2026-03-01) or a date-time (ISO 8601)")
        try:
            if len(value) == 10:
                return date.fromisoformat(value)
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValidationError(
                f"{value!r} is neither a date (2026-03-01) nor an ISO 8601 date-time"
            ) from exc
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SearchArgs(Schema):
    q = fields.String(
        load_default="",
        validate=validate.Length(max=transcript_search.MAX_QUERY_CHARS),
        metadata={"description": 'words (all must match), "quoted phrases"; Mandarin or English'},
    )
    campaign_id = fields.Integer(load_default=None)
    agent_id = fields.Integer(load_default=None)
    patient_id = fields.Integer(load_default=None)
    started_from = DayOrMoment(
        data_key="from", load_default=None, metadata={"description": "calls started from"}
    )
    started_to = DayOrMoment(
        data_key="to", load_default=None, metadata={"description": "calls started before"}
    )
    tag = fields.String(load_default=None, metadata={"description": "patient tag name"})
    speaker = fields.Enum(Speaker, by_value=True, load_default=None)
    page = fields.Integer(
        load_default=1, validate=validate.Range(min=1, max=transcript_search.MAX_PAGE)
    )


class HitOut(Schema):
    segment_id = fields.Integer()
    recording_id = fields.Integer()
    call_attempt_id = fields.String()
    campaign_id = fields.Integer(allow_none=True)
    agent_id = fields.Integer(allow_none=True)
    patient_id = fields.Integer(allow_none=True)
    call_started_at = fields.DateTime()
    speaker = fields.Enum(Speaker, by_value=True)
    start_seconds = fields.Float()
    end_seconds = fields.Float()
    offset_seconds = fields.Float(metadata={"description": "where the first match is spoken"})
    rank = fields.Float()
    snippet = fields.String(metadata={"description": "escaped HTML; matches in <mark>"})


class SearchMeta(Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    total_capped = fields.Boolean(
        metadata={
            "description": "true when more than `total` segments matched: counting stopped "
            "there and only the newest `ranking_window` matches were ranked"
        }
    )
    ranking_window = fields.Integer(
        metadata={
            "description": "when more segments match, the newest this many (the most recently "
            "transcribed) are ranked and paged; refine the query or filter by date to reach "
            "older calls"
        }
    )


class SearchPage(Schema):
    items = fields.List(fields.Nested(HitOut))
    meta = fields.Nested(SearchMeta)
    terms = fields.List(fields.String(), metadata={"description": "the words searched for"})
    message = fields.String(metadata={"description": "why nothing was searched, if so"})


class WordOut(Schema):
    text = fields.String()
    start = fields.Float()
    end = fields.Float()
    confidence = fields.Float(allow_none=True)


class SegmentOut(Schema):
    id = fields.Integer()
    speaker = fields.Enum(Speaker, by_value=True)
    start_seconds = fields.Float()
    end_seconds = fields.Float()
    text = fields.String()
    language = fields.String()
    engine = fields.String()
    model = fields.String()
    words = fields.List(fields.Nested(WordOut))


class TranscriptOut(Schema):
    recording_id = fields.Integer()
    call_attempt_id = fields.String()
    status = fields.Enum(RecordingStatus, by_value=True)
    duration_seconds = fields.Float(allow_none=True)
    segments = fields.List(fields.Nested(SegmentOut))


class RecordingArgs(Schema):
    status = fields.Enum(RecordingStatus, by_value=True, load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class RecordingOut(Schema):
    id = fields.Integer()
    call_attempt_id = fields.String()
    status = fields.Enum(RecordingStatus, by_value=True)
    failure_reason = fields.String(allow_none=True)
    duration_seconds = fields.Float(allow_none=True)
    created_at = fields.DateTime()


def _moment(value, *, end: bool) -> datetime | None:
    """A date means the whole day in the clinic's timezone; ``to`` is exclusive."""
    if value is None or isinstance(value, datetime):
        return value
    zone = zoneinfo.ZoneInfo(setting("DEFAULT_TIMEZONE"))
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time(0), tzinfo=zone)


@blp.route("/transcripts/search")
@blp.arguments(SearchArgs, location="query")
@blp.response(200, SearchPage)
@requires("transcripts.search")
def search_transcripts(args):
    """Find spoken words or "quoted phrases"; every search goes into the audit ledger.

    Hits are ranked best first. When more than ``ranking_window`` segments match, only the
    newest that many (most recently transcribed) are ranked and paged, and ``total_capped`` is true.
    """
    filters = transcript_search.Filters(
        campaign_id=args["campaign_id"],
        agent_id=args["agent_id"],
        patient_id=args["patient_id"],
        started_from=_moment(args["started_from"], end=False),
        started_to=_moment(args["started_to"], end=True),
        tag=args["tag"] or None,
        speaker=args["speaker"],
    )
    result = transcript_search.search(db.session, current(), args["q"], filters, page=args["page"])
    db.session.commit()
    return {
        "items": result.hits,
        "meta": {
            "page": result.page,
            "per_page": result.per_page,
            "total": result.total,
            "total_capped": result.total_capped,
            "ranking_window": result.ranking_window,
        },
        "terms": result.terms,
        "message": result.message,
    }


@blp.route("/recordings/<int:recording_id>/transcript")
@blp.response(200, TranscriptOut)
@requires("transcripts.read")
def get_transcript(recording_id: int):
    """A recording's segments with timed words, in order; the read is audited."""
    transcript = transcripts.read_transcript(db.session, current(), recording_id)
    db.session.commit()
    recording = transcript.recording
    return {
        "recording_id": recording.id,
        "call_attempt_id": recording.call_attempt_id,
        "status": recording.status,
        "duration_seconds": recording.duration_seconds,
        "segments": transcript.segments,
    }


@blp.route("/recordings")
@blp.arguments(RecordingArgs, location="query")
@blp.response(200, RecordingOut(many=True))
@requires("recordings.read")
def list_recordings(args):
    """Recordings newest first; ``status=failed`` lists those waiting to be re-queued."""
    return transcripts.list_recordings(
        db.session, args["status"], page=args["page"], per_page=args["per_page"]
    )


@blp.route("/recordings/<int:recording_id>/requeue", methods=["POST"])
@blp.response(202, RecordingOut)
@requires("recordings.requeue")
def requeue_recording(recording_id: int):
    """Queue a failed recording's processing job again."""
    recording = transcripts.requeue(db.session, current(), recording_id)
    db.session.commit()
    transcripts.enqueue(
        current_app.extensions["callcenter.jobs"], recording.id, recording.duration_seconds
    )
    return recording
