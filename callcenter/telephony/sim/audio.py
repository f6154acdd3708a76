"""WAV in and out with the standard library (``wave`` + ``array``): no numpy.

Speech files are turned into 8 kHz mono 16-bit (first channel of a stereo file, linear
resampling from any rate); recordings are written the way FreeSWITCH writes them: 16-bit PCM,
8 kHz by default, two channels with ``RECORD_STEREO=true`` (left: what the leg hears, i.e. the
far end; right: what is played to it).
"""

from __future__ import annotations

import logging
import os
import random
import sys
import wave
from array import array
from pathlib import Path

log = logging.getLogger(__name__)

RATE = 8000
NOISE_PEAK = 3  # low-level noise on the silent side, a few LSB (about -80 dBFS)


def read_mono(path: str | Path, rate: int = RATE) -> array:
    """The first channel of a WAV file as 16-bit samples at ``rate`` Hz."""
    with wave.open(str(path), "rb") as wav:
        channels = wav.getnchannels()
        width = wav.getsampwidth()
        source_rate = wav.getframerate()
        raw = wav.readframes(wav.getnframes())
    samples = _to_int16(raw, width)
    if channels > 1:
        samples = samples[::channels]
    return resample(samples, source_rate, rate)


def _to_int16(raw: bytes, width: int) -> array:
    if width == 2:
        out = array("h", raw[: len(raw) - len(raw) % 2])
        if sys.byteorder == "big":
            out.byteswap()
        return out
    if width == 1:  # unsigned 8-bit
        return array("h", ((b - 128) << 8 for b in raw))
    if width in (3, 4):
        step = width
        return array(
            "h",
            (
                int.from_bytes(raw[i + step - 2 : i + step], "little", signed=True)
                for i in range(0, len(raw) - step + 1, step)
            ),
        )
    raise ValueError(f"unsupported sample width {width}")


def resample(samples: array, source_rate: int, rate: int) -> array:
    """Linear interpolation from ``source_rate`` to ``rate``."""
    if source_rate == rate or not samples:
        return array("h", samples)
    count = max(1, int(len(samples) * rate / source_rate))
    step = source_rate / rate
    last = len(samples) - 1
    out = array("h", bytes(2 * count))
    for i in range(count):
        pos = i * step
        j = int(pos)
        if j >= last:
            out[i] = samples[last]
            continue
        frac = pos - j
        out[i] = int(samples[j] + (samples[j + 1] - samples[j]) * frac)
    return out


def duration_of(path: str | Path) -> float | None:
    """Seconds of audio in a WAV file, or None if it cannot be read."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / float(wav.getframerate())
    except (OSError, EOFError, wave.Error):
        return None


_NOISE_BLOCK: array | None = None


def noise(count: int) -> array:
    """Deterministic low-level noise (tiled from one random block)."""
    global _NOISE_BLOCK
    if _NOISE_BLOCK is None:
        rng = random.Random(8000)
        _NOISE_BLOCK = array("h", (rng.randint(-NOISE_PEAK, NOISE_PEAK) for _ in range(RATE)))
    block = _NOISE_BLOCK
    reps, rest = divmod(count, len(block))
    return block * reps + block[:rest]


def mix(target: array, segment: array, at: int) -> None:
    """Add ``segment`` into ``target`` from sample ``at`` (clipped to 16 bits and to length)."""
    if at >= len(target) or not segment:
        return
    if at < 0:
        segment = segment[-at:]
        at = 0
    end = min(len(target), at + len(segment))
    for i in range(at, end):
        value = target[i] + segment[i - at]
        target[i] = 32767 if value > 32767 else -32768 if value < -32768 else value


def write_wav(path: str | Path, rate: int, channels: list[array]) -> int:
    """Write 16-bit PCM (channels interleaved), creating parent folders; returns the file size.

    Written to a temporary name first and renamed, so a reader never sees half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = len(channels[0])
    if len(channels) == 1:
        data = array("h", channels[0])
    else:
        data = array("h", bytes(2 * frames * len(channels)))
        for index, channel in enumerate(channels):
            data[index :: len(channels)] = channel
    if sys.byteorder == "big":
        data.byteswap()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    with wave.open(str(tmp), "wb") as wav:
        wav.setnchannels(len(channels))
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(data.tobytes())
    os.replace(tmp, path)
    return path.stat().st_size
