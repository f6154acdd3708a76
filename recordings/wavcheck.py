"""Check a WAV file the switch wrote before anything else trusts it."""

from __future__ import annotations

import hashlib
import wave
from dataclasses import dataclass
from pathlib import Path


class BadRecording(ValueError):
    """The file is missing, empty, truncated or not PCM WAV; the message says which."""


@dataclass(frozen=True)
class WavInfo:
    channels: int
    sample_rate: int
    sample_width: int
    frames: int
    sha256: str

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def inspect(path: str | Path) -> WavInfo:
    file = Path(path)
    if not file.exists():
        raise BadRecording(f"{file} does not exist")
    size = file.stat().st_size
    if size == 0:
        raise BadRecording(f"{file} is empty")
    try:
        with wave.open(str(file), "rb") as wav:
            channels, rate, width = wav.getnchannels(), wav.getframerate(), wav.getsampwidth()
            declared = wav.getnframes()
            data = wav.readframes(declared)
    except (wave.Error, EOFError) as exc:
        raise BadRecording(f"{file} is not a PCM WAV file: {exc}") from exc
    frames = len(data) // (channels * width) if channels and width else 0
    if frames < declared:
        raise BadRecording(f"{file} is truncated: {frames} of {declared} frames present")
    if frames == 0:
        raise BadRecording(f"{file} holds no audio")
    return WavInfo(channels, rate, width, frames, hashlib.sha256(file.read_bytes()).hexdigest())
