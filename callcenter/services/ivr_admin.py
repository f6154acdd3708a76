"""Configure IVR campaigns: flow and settings, prompt texts, uploaded prompt audio, appointments.

Prompt keys and default texts come from ``ivr.texts``; uploaded audio is converted to what
telephony plays (8 kHz mono 16-bit WAV) and kept in the prompt store, where the IVR's
PromptLibrary prefers it over speech synthesis.
"""

from __future__ import annotations

import hashlib
import string
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.errors import InvalidInput, NotFound
from callcenter.models import Campaign, CampaignKind, FollowUpTask, User
from callcenter.models.ivr import IvrAppointment, IvrCampaignSettings, IvrPrompt
from callcenter.services import audit
from ivr import texts
from ivr.prompts import PromptStore

LANGUAGES = ("zh", "en")
MAX_AUDIO_BYTES = 20 * 1024 * 1024
# Said with values that change per call: a recording cannot say them.
SPOKEN_WITH_VALUES = {"appointment"}
SETTING_FIELDS = ("flow", "clinic_name", "transfer_wait_seconds", "callback_campaign_id")


class InvalidPromptAudio(InvalidInput):
    error_id = "invalid-prompt-audio"


def ivr_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found", {"campaign_id": campaign_id})
    if campaign.kind is not CampaignKind.IVR:
        raise InvalidInput(
            f"campaign {campaign_id} is an {campaign.kind} campaign; IVR settings need an IVR one",
            {"field": "campaign_id", "campaign_id": campaign_id},
        )
    return campaign


def get_settings(session: Session, campaign_id: int) -> IvrCampaignSettings:
    """The campaign's settings; a campaign without a row gets the defaults (not saved)."""
    ivr_campaign(session, campaign_id)
    found = session.get(IvrCampaignSettings, campaign_id)
    if found is not None:
        return found
    columns = IvrCampaignSettings.__table__.columns
    defaults = {name: columns[name].default.arg for name in SETTING_FIELDS[:3]}
    return IvrCampaignSettings(campaign_id=campaign_id, callback_campaign_id=None, **defaults)


def put_settings(session: Session, user: User, campaign_id: int, data: dict) -> IvrCampaignSettings:
    """Change some or all settings of an IVR campaign."""
    ivr_campaign(session, campaign_id)
    target = data.get("callback_campaign_id")
    if target is not None:
        callbacks = session.get(Campaign, target)
        if callbacks is None or callbacks.kind is not CampaignKind.AGENT:
            raise InvalidInput(
                f"callback campaign {target} must be an existing agent campaign",
                {"field": "callback_campaign_id"},
            )
    settings = session.get(IvrCampaignSettings, campaign_id)
    if settings is None:
        settings = get_settings(session, campaign_id)
        session.add(settings)
    for name in SETTING_FIELDS:
        if name in data:
            setattr(settings, name, data[name])
    session.flush()
    changed = {k: str(v) for k, v in data.items()}
    audit.append(session, audit.Actor.of(user), "ivr.settings", "campaign", campaign_id, changed)
    return settings


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise InvalidInput(
            f"language must be one of {', '.join(LANGUAGES)}, not {language!r}",
            {"field": "language"},
        )


def _check_key(language: str, key: str) -> None:
    _check_language(language)
    if key not in texts.DEFAULTS:
        raise InvalidInput(
            f"no prompt is called {key!r}", {"field": "key", "known": sorted(texts.DEFAULTS)}
        )


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def prompt_view(row: IvrPrompt | None, language: str, key: str) -> dict:
    default = texts.DEFAULTS[key].get(language) or texts.DEFAULTS[key]["en"]
    return {
        "key": key,
        "language": language,
        "text": (row.text if row is not None and row.text else default),
        "default_text": default,
        "custom_text": bool(row is not None and row.text),
        "audio": bool(row is not None and row.audio_key),
        "audio_sha256": row.audio_sha256 if row is not None else None,
        "placeholders": sorted(placeholders(default)),
    }


def list_prompts(session: Session, campaign_id: int, language: str | None = None) -> list[dict]:
    """Every prompt key with its effective text, per language."""
    ivr_campaign(session, campaign_id)
    languages = [language] if language else list(LANGUAGES)
    if language:
        _check_language(language)
    rows = {
        (row.language, row.key): row
        for row in session.scalars(select(IvrPrompt).where(IvrPrompt.campaign_id == campaign_id))
    }
    return [
        prompt_view(rows.get((lang, key)), lang, key)
        for lang in languages
        for key in texts.DEFAULTS
    ]


def _prompt_row(session: Session, campaign_id: int, language: str, key: str) -> IvrPrompt | None:
    return session.scalar(
        select(IvrPrompt).where(
            IvrPrompt.campaign_id == campaign_id,
            IvrPrompt.language == language,
            IvrPrompt.key == key,
        )
    )


def get_prompt(session: Session, campaign_id: int, language: str, key: str) -> dict:
    ivr_campaign(session, campaign_id)
    _check_key(language, key)
    return prompt_view(_prompt_row(session, campaign_id, language, key), language, key)


def put_prompt_text(
    session: Session, user: User, campaign_id: int, language: str, key: str, text: str | None
) -> dict:
    """Override a prompt's text; an empty text goes back to the default."""
    ivr_campaign(session, campaign_id)
    _check_key(language, key)
    text = (text or "").strip()
    allowed = placeholders(texts.DEFAULTS[key]["en"])
    try:
        used = placeholders(text)
    except ValueError as exc:  # an unmatched brace
        raise InvalidInput(
            f"prompt text is not a valid template: {exc}", {"field": "text"}
        ) from exc
    unknown = used - allowed
    if unknown or any(not name.isidentifier() for name in used):
        raise InvalidInput(
            f"prompt {key!r} may only use {sorted(allowed) or 'no placeholders'}, "
            f"not {sorted(unknown or used)}",
            {"field": "text", "allowed": sorted(allowed)},
        )
    row = _prompt_row(session, campaign_id, language, key)
    if row is None:
        row = IvrPrompt(campaign_id=campaign_id, language=language, key=key)
        session.add(row)
    row.text = text or None
    session.flush()
    audit.append(session, audit.Actor.of(user), "ivr.prompt_text", "campaign", campaign_id,
                 {"language": language, "key": key})  # fmt: skip
    return prompt_view(row, language, key)


def convert_to_telephony_wav(data: bytes) -> bytes:
    """8 kHz mono 16-bit WAV from any WAV ffmpeg reads; InvalidPromptAudio if it cannot."""
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise InvalidPromptAudio("the upload is not a WAV file (no RIFF/WAVE header)",
                                 {"field": "file"})  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="prompt-") as folder:
        source, target = Path(folder) / "in.wav", Path(folder) / "out.wav"
        source.write_bytes(data)
        done = subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(source),
             "-ar", "8000", "-ac", "1", "-sample_fmt", "s16", str(target)],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        if done.returncode != 0 or not target.is_file():
            reason = done.stderr.decode(errors="replace").strip()[-200:]
            raise InvalidPromptAudio(f"the WAV file cannot be read: {reason}", {"field": "file"})
        converted = target.read_bytes()
    if len(converted) <= 44:
        raise InvalidPromptAudio("the WAV file holds no audio", {"field": "file"})
    return converted


def upload_prompt_audio(
    session: Session,
    user: User,
    store: PromptStore,
    campaign_id: int,
    language: str,
    key: str,
    data: bytes,
) -> dict:
    """Keep a recorded prompt; from the next call on it is played instead of synthesized speech."""
    ivr_campaign(session, campaign_id)
    _check_key(language, key)
    if key in SPOKEN_WITH_VALUES:
        raise InvalidInput(f"prompt {key!r} changes with every call and cannot be recorded",
                           {"field": "key"})  # fmt: skip
    if len(data) > MAX_AUDIO_BYTES:
        raise InvalidPromptAudio(f"the file is larger than {MAX_AUDIO_BYTES} bytes",
                                 {"field": "file"})  # fmt: skip
    converted = convert_to_telephony_wav(data)
    digest = hashlib.sha256(converted).hexdigest()
    name = f"uploaded/{campaign_id}/{language}/{key}-{digest[:16]}.wav"
    store.put(name, converted)
    row = _prompt_row(session, campaign_id, language, key)
    if row is None:
        row = IvrPrompt(campaign_id=campaign_id, language=language, key=key)
        session.add(row)
    row.audio_key, row.audio_sha256 = name, digest
    session.flush()
    audit.append(session, audit.Actor.of(user), "ivr.prompt_audio", "campaign", campaign_id,
                 {"language": language, "key": key, "sha256": digest})  # fmt: skip
    return prompt_view(row, language, key)


def put_appointment(
    session: Session, user: User, task_id: int, starts_at: datetime, place: str = ""
) -> IvrAppointment:
    """Set the appointment a reminder task is about (aware datetime)."""
    task = session.get(FollowUpTask, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found", {"task_id": task_id})
    campaign = session.get(Campaign, task.campaign_id)
    if campaign is None or campaign.kind is not CampaignKind.IVR:
        raise InvalidInput(f"task {task_id} is not in an IVR campaign", {"field": "task_id"})
    row = session.scalar(select(IvrAppointment).where(IvrAppointment.task_id == task_id))
    if row is None:
        row = IvrAppointment(task_id=task_id)
        session.add(row)
    row.starts_at, row.place = starts_at, place
    session.flush()
    audit.append(session, audit.Actor.of(user), "ivr.appointment", "task", task_id,
                 {"starts_at": starts_at.isoformat()})  # fmt: skip
    return row


def get_appointment(session: Session, task_id: int) -> IvrAppointment:
    row = session.scalar(select(IvrAppointment).where(IvrAppointment.task_id == task_id))
    if row is None:
        raise NotFound(f"task {task_id} has no appointment", {"task_id": task_id})
    return row
