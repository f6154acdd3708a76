"""Fixtures for the recordings package: real FreeSWITCH WAVs, espeak-ng speech, keyrings."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from recordings import audio
from recordings.keys import Keyring, new_key_entry


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.from_setting(new_key_entry("k1"))


@pytest.fixture(scope="session")
def espeak_wav(tmp_path_factory) -> Path:
    """Return an espeak-ng recording of an English follow-up sentence (22.05 kHz mono)."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is required for the recordings tests (apt-get install espeak-ng)")
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    subprocess.run(
        [
            "espeak-ng",
            "-w",
            str(path),
            "Hello, this is the clinic calling about your blood "
            "pressure. Please remember to take your medication every morning.",
        ],
        check=True,
    )
    return path


@pytest.fixture(scope="session")
def speech_left_stereo(espeak_wav, tmp_path_factory) -> Path:
    """Return an 8 kHz stereo WAV like FreeSWITCH's: speech on the left, silence on the right."""
    speech = audio.load(espeak_wav).set_frame_rate(8000).set_sample_width(2)
    silence = speech._spawn(bytes(len(speech.raw_data)))  # digital zero, same frame count
    stereo = audio.AudioSegment.from_mono_audiosegments(speech, silence)
    path = tmp_path_factory.mktemp("speech") / "speech_left.wav"
    with path.open("wb") as out:  # export(path) would leave pydub's handle open
        stereo.export(out, format="wav")
    return path
