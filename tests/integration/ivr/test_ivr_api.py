"""The IVR API: settings, prompt texts and recordings, appointments, report and patient history."""

from __future__ import annotations

import io
import math
import struct
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import AuditEntry, CallAttempt, CampaignKind
from callcenter.models.ivr import IvrFlow, IvrPrompt
from ivr.runner import load_context
from tests import factories
from tests.integration.ivr.conftest import (
    ivr_calls,
    ivr_campaign,
    listener,
    reminder_patient,
    run_campaign,
    settled_task,
)


def tone_wav(rate: int = 16000, channels: int = 2, seconds: float = 0.5) -> bytes:
    """A real 440 Hz tone, not what telephony plays (16 kHz stereo), to be converted."""
    frames = bytearray()
    for n in range(int(rate * seconds)):
        sample = int(12000 * math.sin(2 * math.pi * 440 * n / rate))
        frames += struct.pack("<h", sample) * channels
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return out.getvalue()


def make_ivr_campaign(name: str = "reminders"):
    return factories.campaign(name, kind=CampaignKind.IVR)


def test_settings_read_and_change_by_staff_only(client, users):
    campaign = make_ivr_campaign()
    callbacks = factories.campaign("callbacks")
    url = f"/api/v1/campaigns/{campaign.id}/ivr"
    got = client.get(url, headers=users.headers("supervisor"))
    assert got.status_code == 200
    assert got.json["flow"] == "reminder" and got.json["transfer_wait_seconds"] == 20

    body = {
        "flow": "medication",
        "clinic_name": "Riverside",
        "transfer_wait_seconds": 45,
        "callback_campaign_id": callbacks.id,
    }
    changed = client.put(url, json=body, headers=users.headers("admin"))
    assert changed.status_code == 200, changed.json
    again = client.get(url, headers=users.headers("supervisor")).json
    assert {k: again[k] for k in body} == body

    for role in ("agent", "qa"):
        assert client.get(url, headers=users.headers(role)).status_code == 403
        assert client.put(url, json=body, headers=users.headers(role)).status_code == 403

    bad = client.put(url, json={"flow": "lottery"}, headers=users.headers("supervisor"))
    assert bad.status_code == 422 and "flow" in bad.json["details"]["json"]
    bad = client.put(url, json={"transfer_wait_seconds": -1}, headers=users.headers("supervisor"))
    assert bad.status_code == 422 and "transfer_wait_seconds" in bad.json["details"]["json"]
    ivr_target = client.put(
        url, json={"callback_campaign_id": campaign.id}, headers=users.headers("supervisor")
    )
    assert ivr_target.status_code == 422
    assert ivr_target.json["details"]["field"] == "callback_campaign_id"
    agent_campaign = client.get(
        f"/api/v1/campaigns/{callbacks.id}/ivr", headers=users.headers("supervisor")
    )
    assert agent_campaign.status_code == 422 and agent_campaign.json["details"]["field"]


def test_prompt_texts_are_validated_and_override_the_default(client, users, app):
    campaign = make_ivr_campaign()
    base = f"/api/v1/campaigns/{campaign.id}/ivr/prompts"
    listed = client.get(f"{base}?language=en", headers=users.headers("supervisor")).json["items"]
    intro = next(p for p in listed if p["key"] == "intro")
    assert intro["placeholders"] == ["clinic"] and not intro["custom_text"]

    text = "Good morning from {clinic}. We record this call."
    put = client.put(f"{base}/en/intro", json={"text": text}, headers=users.headers("supervisor"))
    assert put.status_code == 200, put.json
    assert put.json["text"] == text and put.json["custom_text"]
    row = db.session.scalar(select(IvrPrompt).where(IvrPrompt.campaign_id == campaign.id))
    assert (row.language, row.key, row.text) == ("en", "intro", text)

    cases = {
        f"{base}/en/intro": {"text": "Hello {name}"},  # not a placeholder of this prompt
        f"{base}/en/thanks": {"text": "Bye {"},  # not a template
        f"{base}/en/jingle": {"text": "la la"},  # no such prompt
        f"{base}/fr/intro": {"text": "Bonjour"},  # no such language
    }
    for url, body in cases.items():
        bad = client.put(url, json=body, headers=users.headers("supervisor"))
        assert bad.status_code == 422, (url, bad.json)
        assert bad.json["details"]["field"] in {"text", "key", "language"}, bad.json
    assert client.put(f"{base}/en/intro", json={}, headers=users.headers("supervisor")).json[
        "details"
    ]["json"] == {"text": ["Missing data for required field."]}

    reset = client.put(f"{base}/en/intro", json={"text": ""}, headers=users.headers("supervisor"))
    assert not reset.json["custom_text"] and reset.json["text"] == reset.json["default_text"]
    assert client.get(f"{base}/en/intro", headers=users.headers("agent")).status_code == 403


def test_uploaded_prompt_is_converted_stored_and_used_by_the_next_call(client, users, app):
    store_dir = Path(app.config["RECORDINGS_STORE_DIR"])
    campaign = make_ivr_campaign()
    url = f"/api/v1/campaigns/{campaign.id}/ivr/prompts/zh/intro/audio"
    upload = client.post(
        url,
        data={"file": (io.BytesIO(tone_wav()), "intro.wav")},
        headers=users.headers("supervisor"),
        content_type="multipart/form-data",
    )
    assert upload.status_code == 200, upload.json
    assert upload.json["audio"] and len(upload.json["audio_sha256"]) == 64
    row = db.session.scalar(select(IvrPrompt).where(IvrPrompt.campaign_id == campaign.id))
    stored = store_dir / "prompts" / row.audio_key
    with wave.open(str(stored)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert abs(w.getnframes() / 8000 - 0.5) < 0.05

    patient = factories.patient("王提醒", consent_call=True)
    task = factories.task(campaign, patient)
    call = CallAttempt(
        task_id=task.id, campaign_id=campaign.id, patient_id=patient.id, number="+8613800138000"
    )
    db.session.add(call)
    db.session.commit()
    ctx = load_context(db.session, call.id, "zh")
    assert ctx.flow is IvrFlow.REMINDER and ctx.prompt_audio == {"intro": row.audio_key}

    not_wav = client.post(
        url,
        data={"file": (io.BytesIO(b"ID3 this is an mp3" * 10), "intro.mp3")},
        headers=users.headers("supervisor"),
        content_type="multipart/form-data",
    )
    assert not_wav.status_code == 422
    assert not_wav.json["error_id"] == "invalid-prompt-audio"
    assert not_wav.json["details"]["field"] == "file"
    broken = tone_wav()[:44] + b"\xff" * 3  # a header and no audio to speak of
    cut = client.post(
        url,
        data={"file": (io.BytesIO(b"RIFF\x00\x00\x00\x00WAVE" + broken[12:]), "x.wav")},
        headers=users.headers("supervisor"),
        content_type="multipart/form-data",
    )
    assert cut.status_code == 422 and cut.json["details"]["field"] == "file"
    per_call = client.post(
        f"/api/v1/campaigns/{campaign.id}/ivr/prompts/zh/appointment/audio",
        data={"file": (io.BytesIO(tone_wav()), "a.wav")},
        headers=users.headers("supervisor"),
        content_type="multipart/form-data",
    )
    assert per_call.status_code == 422 and per_call.json["details"]["field"] == "key"
    refused = client.post(
        url,
        data={"file": (io.BytesIO(tone_wav()), "intro.wav")},
        headers=users.headers("agent"),
        content_type="multipart/form-data",
    )
    assert refused.status_code == 403


def test_appointments_need_an_aware_time_and_an_ivr_task(client, users):
    campaign = make_ivr_campaign()
    agent_campaign = factories.campaign("agents")
    patient = factories.patient(consent_call=True)
    task = factories.task(campaign, patient)
    other = factories.task(agent_campaign, patient)
    url = f"/api/v1/tasks/{task.id}/appointment"
    put = client.put(
        url,
        json={"starts_at": "2030-03-04T09:30:00+08:00", "place": "Room 2"},
        headers=users.headers("supervisor"),
    )
    assert put.status_code == 200, put.json
    got = client.get(url, headers=users.headers("supervisor")).json
    assert datetime.fromisoformat(got["starts_at"]) == datetime(2030, 3, 4, 1, 30, tzinfo=UTC)
    assert got["place"] == "Room 2"

    naive = client.put(
        url, json={"starts_at": "2030-03-04T09:30:00"}, headers=users.headers("supervisor")
    )
    assert naive.status_code == 422 and "starts_at" in naive.json["details"]["json"]
    wrong = client.put(
        f"/api/v1/tasks/{other.id}/appointment",
        json={"starts_at": "2030-03-04T09:30:00Z"},
        headers=users.headers("supervisor"),
    )
    assert wrong.status_code == 422 and wrong.json["details"]["field"] == "task_id"
    assert (
        client.put(
            url, json={"starts_at": "2030-03-04T09:30:00Z"}, headers=users.headers("agent")
        ).status_code
        == 403
    )


def test_report_and_patient_history_after_real_calls(client, users, ivr_board):
    campaign = ivr_campaign("report", max_attempts=2, max_concurrent=10)
    board = ivr_board
    reminder_patient(
        board, campaign, "Ann Yes", "+8613900000021", listener((1.0, "1")), language="en"
    )
    change, change_task = reminder_patient(
        board, campaign, "王改期", "+8613900000022", listener((1.0, "2"))
    )
    reminder_patient(board, campaign, "赵退订", "+8613900000023", listener((1.0, "9")))
    early, _ = reminder_patient(
        board, campaign, "李挂断", "+8613900000024", listener((0.5, "hangup"))
    )
    run_campaign(board, campaign)
    ivr_calls(campaign.id, 4)
    settled_task(change_task.id)

    report = client.get(
        f"/api/v1/campaigns/{campaign.id}/ivr/report", headers=users.headers("supervisor")
    )
    assert report.status_code == 200, report.json
    body = report.json
    assert body["calls"] == 4 and body["reached"] == 4 and body["patients_reached"] == 4
    outcomes = {k: v for k, v in body["outcomes"].items() if v}
    assert outcomes == {"confirmed": 1, "change_requested": 1, "opted_out": 1, "hung_up_early": 1}
    assert body["hung_up_early_by_step"] == {"menu": 1}
    assert body["tasks"]["completed"] == 3
    for role in ("agent", "qa"):
        url = f"/api/v1/campaigns/{campaign.id}/ivr/report"
        assert client.get(url, headers=users.headers(role)).status_code == 403

    history = client.get(
        f"/api/v1/patients/{change.id}/ivr-calls", headers=users.headers("supervisor")
    )
    assert history.status_code == 200, history.json
    [call] = history.json["items"]
    assert call["outcome"] == "change_requested" and call["step"] == "change_requested"
    assert [t["digits"] for t in call["keypad_trail"]] == ["2"]
    assert call["callback_task_id"] and call["campaign_name"] == "report"
    read = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "patient.read", AuditEntry.object_id == str(change.id)
        )
    ).all()
    assert any(entry.details.get("purpose") == "ivr history" for entry in read)
    early_call = client.get(
        f"/api/v1/patients/{early.id}/ivr-calls", headers=users.headers("admin")
    ).json["items"][0]
    assert (early_call["outcome"], early_call["step"]) == ("hung_up_early", "menu")

    # The agent is not on this campaign: the patient is invisible, as if absent; QA never.
    assert (
        client.get(
            f"/api/v1/patients/{change.id}/ivr-calls", headers=users.headers("agent")
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"/api/v1/patients/{change.id}/ivr-calls", headers=users.headers("qa")
        ).status_code
        == 403
    )
    assert (datetime.now(UTC) - datetime.fromisoformat(call["started_at"])) < timedelta(minutes=5)
