"""Calls with recordings, transcripts and follow-up logs for the supervisor, QA and admin pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import g

from callcenter.extensions import db
from callcenter.models import (
    CallStatus,
    Disposition,
    FollowUpLog,
    Recording,
    RecordingStatus,
    Speaker,
)
from tests import factories
from tests.conftest import login
from tests.integration.transcript_data import call, recording_with, timed

EVIL_NAME = "<script>alert(1)</script>"


@dataclass
class Calls:
    campaign_a: object
    campaign_b: object
    zh_patient: object
    evil_patient: object
    long_call: object  # campaign A, agent, 张伟, 95 s, reached, Mandarin transcript
    short_call: object  # campaign B, agent2, the <script> patient, 12 s, not reached
    long_recording: Recording
    short_recording: Recording


def _finish(recording: Recording, seconds: float) -> None:
    recording.status = RecordingStatus.READY
    recording.duration_seconds = seconds
    recording.channels = 2
    recording.sample_rate = 8000


def build(users) -> Calls:
    zh_patient = factories.patient("张伟", phone="+8613800138001", card="Z0001")
    evil_patient = factories.patient(EVIL_NAME, phone="+8613800138002", card="E0001")
    campaign_a = factories.campaign("Hypertension A", agents=[users.agent])
    campaign_b = factories.campaign("Diabetes B", agents=[users.other_agent])
    long_call = call(campaign_a, zh_patient, users.agent, datetime(2026, 3, 1, 2, 0, tzinfo=UTC))
    long_call.status = CallStatus.ENDED
    long_call.answered_at = datetime(2026, 3, 1, 2, 0, 5, tzinfo=UTC)
    long_call.billsec = 95
    short_call = call(
        campaign_b, evil_patient, users.other_agent, datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    )
    short_call.status = CallStatus.ENDED
    long_recording = recording_with(
        long_call,
        [
            {
                "speaker": Speaker.CLINIC,
                "start": 0.5,
                "end": 2.9,
                "text": "请按时服用降压药",
                "words": timed(
                    [("请", 0.5), ("按时", 0.9), ("服用", 1.4), ("降压", 2.0), ("药", 2.4)]
                ),
            },
            {
                "speaker": Speaker.PATIENT,
                "start": 3.5,
                "end": 6.0,
                "text": "好的 我的电话是13800138001",
                "words": timed([("好的", 3.5), ("我的", 4.0), ("电话", 4.4), ("是", 4.8)]),
            },
        ],
    )
    short_recording = recording_with(
        short_call,
        [
            {
                "speaker": Speaker.CLINIC,
                "start": 1.0,
                "end": 3.0,
                "text": "Please take your medication",
                "language": "en",
                "words": timed(
                    [("Please", 1.0), ("take", 1.4), ("your", 1.8), ("medication", 2.2)]
                ),
            }
        ],
    )
    _finish(long_recording, 95.0)
    _finish(short_recording, 12.0)
    db.session.add_all(
        [
            FollowUpLog(
                patient_id=zh_patient.id,
                agent_id=users.agent.id,
                call_attempt_id=long_call.id,
                recording_id=long_recording.id,
                disposition=Disposition.REACHED,
                notes="血压控制良好",
            ),
            FollowUpLog(
                patient_id=evil_patient.id,
                agent_id=users.other_agent.id,
                call_attempt_id=short_call.id,
                recording_id=short_recording.id,
                disposition=Disposition.NOT_REACHED,
            ),
        ]
    )
    db.session.commit()
    return Calls(
        campaign_a,
        campaign_b,
        zh_patient,
        evil_patient,
        long_call,
        short_call,
        long_recording,
        short_recording,
    )


def signed_in(app, username: str):
    """A client signed in as ``username``.

    The ``app`` fixture keeps one app context pushed for the whole test, and Flask reuses it for
    every request, so the user (Flask-Login) and the CSRF token (Flask-WTF) cached in ``g`` would
    leak from one client to the next; forget them before switching users.
    """
    for cached in ("_login_user", "user", "via_token", "csrf_token", "csrf_valid"):
        g.pop(cached, None)
    client = app.test_client()
    login(client, username)
    return client
