"""Prompts are real speech audio in both languages; uploads win; dates are said naturally."""

from __future__ import annotations

import asyncio
import wave
from array import array
from datetime import datetime
from pathlib import Path

import pytest

from callcenter.models.ivr import IvrFlow
from ivr import texts
from ivr.dialog import CallContext, Dialog
from ivr.prompts import LocalPromptStore, PromptError, PromptLibrary, tts_name
from ivr.speech import say_datetime


def stats(path: str) -> tuple[float, float, tuple[int, int, int]]:
    with wave.open(path, "rb") as wav:
        shape = (wav.getnchannels(), wav.getframerate(), wav.getsampwidth())
        samples = array("h", wav.readframes(wav.getnframes()))
    rms = (sum(s * s for s in samples) / max(1, len(samples))) ** 0.5
    return len(samples) / shape[1], rms, shape


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_default_prompt_is_speech_in_telephony_format(tmp_path, language):
    library = PromptLibrary(LocalPromptStore(tmp_path))
    keys = ["intro", "appointment", "reminder_menu", "no_input", "goodbye_retry", "digit_7"]

    async def make():
        made = []
        for key in keys:
            text = texts.DEFAULTS[key][language].format(clinic="Clinic", when="tomorrow")
            made.append(await library.speak(text, language))
        return made

    for key, path in zip(keys, asyncio.run(make()), strict=True):
        seconds, rms, shape = stats(path)
        assert shape == (1, 8000, 2), key  # 8 kHz mono 16-bit
        assert seconds >= 0.3, (key, seconds)
        assert rms > 300, (key, rms)  # speech, not silence (silence is ~0)
        assert Path(path).is_relative_to(tmp_path / "tts")


def test_one_text_is_synthesized_once_even_when_asked_concurrently(tmp_path):
    library = PromptLibrary(LocalPromptStore(tmp_path))

    async def many():
        return await asyncio.gather(*(library.speak("您好", "zh") for _ in range(20)))

    paths = set(asyncio.run(many()))
    assert len(paths) == 1
    assert len(list((tmp_path / "tts").rglob("*.wav"))) == 1
    assert paths.pop().endswith(tts_name(library.engine, "您好", "zh"))
    # Another language or text is another file.
    assert tts_name(library.engine, "您好", "en") != tts_name(library.engine, "您好", "zh")


def test_uploaded_audio_wins_over_speech_and_campaign_text_over_default(tmp_path):
    store = LocalPromptStore(tmp_path)
    uploaded = store.put("campaigns/1/en/intro.wav", b"RIFF-not-really-audio")
    ctx = CallContext(
        call_id="c", task_id=None, patient_id=1, campaign_id=1, flow=IvrFlow.REMINDER,
        language="en", prompt_audio={"intro": "campaigns/1/en/intro.wav"},
        prompt_texts={"confirmed": "Thanks, see you then."},
    )  # fmt: skip
    dialog = Dialog(None, ctx, PromptLibrary(store), opt_out=None, transfer=None)
    assert asyncio.run(dialog.prompt("intro")) == uploaded
    assert dialog.text("confirmed") == "Thanks, see you then."
    assert dialog.text("no_input") == texts.DEFAULTS["no_input"]["en"]
    ctx.prompt_audio["thanks"] = "campaigns/1/en/missing.wav"
    with pytest.raises(PromptError, match="not in the prompt store"):
        asyncio.run(dialog.prompt("thanks"))
    with pytest.raises(PromptError, match="relative"):
        store.path("../escape.wav")


def test_dates_and_times_are_said_as_people_say_them():
    when = datetime(2026, 12, 3, 9, 30)
    assert say_datetime(when, "zh") == "12月3日星期四上午9点30分"
    assert say_datetime(when, "en") == "Thursday, December 3rd at 9:30 AM"
    assert say_datetime(datetime(2026, 12, 22, 15, 0), "en") == "Tuesday, December 22nd at 3 PM"
    assert say_datetime(datetime(2026, 12, 22, 15, 0), "zh") == "12月22日星期二下午3点"
    assert say_datetime(datetime(2026, 12, 11, 12, 5), "en").startswith("Friday, December 11th")
    assert (
        texts.choice_hint(["无 / None", "头晕 / Dizziness"], "zh") == "请选择：无请按1，头晕请按2。"
    )
