"""A small transcript corpus for the search and transcript API tests: two calls, two campaigns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from callcenter.extensions import db
from callcenter.models import CallAttempt, PatientTag, Recording, Speaker, Tag, TranscriptSegment
from callcenter.services import transcripts
from tests import factories


def timed(pairs: list[tuple[str, float]], step: float = 0.4) -> list[dict]:
    """Words with start/end seconds, as an engine reports them."""
    return [
        {"text": text, "start": start, "end": start + step, "confidence": 0.9}
        for text, start in pairs
    ]


def recording_with(call: CallAttempt, segments: list[dict]) -> Recording:
    recording = Recording(call_attempt_id=call.id, source_path=f"/tmp/{call.id}.wav")
    db.session.add(recording)
    db.session.flush()
    rows = [
        TranscriptSegment(
            speaker=s["speaker"],
            start_seconds=s["start"],
            end_seconds=s["end"],
            text=s["text"],
            words=s.get("words", []),
            language=s.get("language", "zh"),
            engine="vosk",
            model="test-model",
        )
        for s in segments
    ]
    transcripts.replace_segments(db.session, recording.id, rows)
    db.session.commit()
    return recording


def call(campaign, patient, agent, started_at: datetime) -> CallAttempt:
    attempt = CallAttempt(
        campaign_id=campaign.id,
        patient_id=patient.id,
        agent_id=agent.id,
        number=patient.primary_phone,
        started_at=started_at,
    )
    db.session.add(attempt)
    db.session.flush()
    return attempt


@dataclass
class Corpus:
    zh_call: CallAttempt
    en_call: CallAttempt
    zh_recording: Recording
    en_recording: Recording
    zh_patient: object
    en_patient: object
    campaign_a: object
    campaign_b: object


def build(users) -> Corpus:
    """Call 1 (campaign A, agent, 张伟 tagged 高血压) in Mandarin; call 2 (B, agent2) in English."""
    zh_patient = factories.patient("张伟", phone="+8613800138001")
    en_patient = factories.patient("Alice Brown", phone="+14155552671", language="en")
    tag = Tag(name="高血压")
    db.session.add(tag)
    db.session.flush()
    db.session.add(PatientTag(patient_id=zh_patient.id, tag_id=tag.id))
    campaign_a = factories.campaign("A", agents=[users.agent])
    campaign_b = factories.campaign("B", agents=[users.other_agent])
    zh_call = call(campaign_a, zh_patient, users.agent, datetime(2026, 3, 1, 2, 0, tzinfo=UTC))
    en_call = call(
        campaign_b, en_patient, users.other_agent, datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    )
    zh_recording = recording_with(
        zh_call,
        [
            {
                "speaker": Speaker.CLINIC,
                "start": 0.0,
                "end": 2.4,
                "text": "请按时服用降压药",
                # Vosk writes Mandarin words with spaces; times are seconds into the recording.
                "words": timed(
                    [("请", 0.0), ("按时", 0.4), ("服用", 0.9), ("降压", 1.5), ("药", 1.9)]
                ),
            },
            {
                "speaker": Speaker.CLINIC,
                "start": 3.0,
                "end": 5.0,
                "text": "您最近血压怎么样",
                "words": timed([("您", 3.0), ("最近", 3.3), ("血压", 3.8), ("怎么样", 4.3)]),
            },
            {
                "speaker": Speaker.PATIENT,
                "start": 5.5,
                "end": 8.0,
                "text": "血压还可以，我的电话是13800138001",
            },
            {
                "speaker": Speaker.PATIENT,
                "start": 8.5,
                "end": 10.0,
                "text": "您的 blood pressure 有点高",
                "language": "en",
            },
        ],
    )
    en_recording = recording_with(
        en_call,
        [
            {
                "speaker": Speaker.CLINIC,
                "start": 1.0,
                "end": 6.0,
                "text": "Please take your blood pressure medication every morning.",
                "language": "en",
                "words": timed(
                    [
                        (" Please", 1.0),
                        (" take", 1.4),
                        (" your", 1.8),
                        (" blood", 2.2),
                        (" pressure", 2.6),
                        (" medication", 3.1),
                        (" every", 3.7),
                        (" morning.", 4.1),
                    ]
                ),
            },
            {
                "speaker": Speaker.PATIENT,
                "start": 7.0,
                "end": 12.0,
                "text": "My blood pressure was high, the blood pressure cuff said so.",
                "language": "en",
            },
            {
                "speaker": Speaker.PATIENT,
                "start": 13.0,
                "end": 15.0,
                "text": "<script>alert('x')</script> & the pressure of blood tests",
                "language": "en",
            },
        ],
    )
    return Corpus(
        zh_call,
        en_call,
        zh_recording,
        en_recording,
        zh_patient,
        en_patient,
        campaign_a,
        campaign_b,
    )
