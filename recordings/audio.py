"""Prepare recordings for the model and the player: split channels, resample, peaks, playback.

Channel convention: FreeSWITCH with ``RECORD_STEREO=true`` writes what the recorded leg hears
on the left (the patient) and what is played to it on the right (the clinic side). A mono
recording holds both sides mixed: ``split_channels`` returns that one segment as both
``patient`` and ``clinic`` with ``mixed`` true, so a caller transcribes it once, not twice.

Browser format: PCM 16-bit WAV. Chrome, Firefox, Safari and Edge all play it; the bytes are
the stored original, so an HTTP Range request maps straight onto encrypted chunks (no
transcoding, no second copy) and the original's SHA-256 stays checkable. MP3 is offered for
downloads where size matters (about 5x smaller for 8 kHz telephone audio).
"""

from __future__ import annotations

import io
import math
import os
import subprocess
import warnings
import wave
from typing import NamedTuple

import numpy as np
import soxr

with warnings.catch_warnings():
    # pydub imports audioop, deprecated since Python 3.11 (removed in 3.13: needs audioop-lts).
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError

AudioSource = str | os.PathLike | bytes | AudioSegment
BROWSER_MIME = {"wav": "audio/wav", "mp3": "audio/mpeg"}
FULL_SCALE = 32768.0


class BadAudio(ValueError):
    """Audio could not be decoded or has a shape we cannot use; the message says which."""


class Channels(NamedTuple):
    patient: AudioSegment
    clinic: AudioSegment

    @property
    def mixed(self) -> bool:
        """Return True for a mono recording, where both names hold the same mixed audio."""
        return self.patient is self.clinic


def load(source: AudioSource) -> AudioSegment:
    """Decode a path, bytes or AudioSegment; PCM WAV is read directly, anything else by ffmpeg."""
    if isinstance(source, AudioSegment):
        return source
    where = "audio bytes" if isinstance(source, bytes) else os.fspath(source)
    try:
        if isinstance(source, bytes):
            if not source:
                raise BadAudio("audio bytes are empty")
            fmt = "wav" if source[:4] == b"RIFF" else None
            return AudioSegment.from_file(io.BytesIO(source), format=fmt)
        # Open the file ourselves: pydub leaves handles it opens from a path unclosed.
        with open(source, "rb") as file:
            fmt = "wav" if file.read(4) == b"RIFF" else None
            file.seek(0)
            return AudioSegment.from_file(file, format=fmt)
    except FileNotFoundError:
        raise BadAudio(f"{where} does not exist") from None
    except (CouldntDecodeError, wave.Error, EOFError, IndexError, ValueError) as exc:
        if isinstance(exc, BadAudio):
            raise
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]  # skip ffmpeg banner
        raise BadAudio(f"{where} could not be decoded as audio: {reason}") from exc


def split_channels(source: AudioSource) -> Channels:
    """Return (patient, clinic): left and right of a stereo recording, the same segment if mono."""
    segment = load(source)
    if segment.channels == 1:
        return Channels(segment, segment)
    if segment.channels != 2:
        raise BadAudio(f"expected a mono or stereo recording, got {segment.channels} channels")
    left, right = segment.split_to_mono()
    return Channels(left, right)


def _ffmpeg(args: list[str], data: bytes | None, what: str) -> bytes:
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", *args]
    try:
        done = subprocess.run(command, input=data, capture_output=True, check=False)
    except FileNotFoundError:
        raise BadAudio(f"{what} needs ffmpeg, which is not installed") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise BadAudio(f"{what} failed in ffmpeg: {message}")
    return done.stdout


def to_pcm16_mono(segment: AudioSegment, sample_rate: int) -> bytes:
    """Return signed 16-bit little-endian mono PCM at ``sample_rate`` (what ASR models take).

    Resampling uses libsoxr (the ``soxr`` package, high quality, band-limited) in process:
    pydub's audioop ``ratecv`` interpolates linearly and aliases when downsampling, and an
    ffmpeg subprocess per channel cost a tenth of a second per call for nothing.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    segment = segment.set_sample_width(2) if segment.sample_width != 2 else segment
    if segment.channels != 1:
        segment = segment.set_channels(1)
    if segment.frame_rate == sample_rate:
        return segment.raw_data
    if not segment.raw_data:
        return b""
    samples = np.frombuffer(segment.raw_data, dtype="<i2")
    resampled = soxr.resample(samples, segment.frame_rate, sample_rate, quality="HQ")
    return np.asarray(resampled, dtype="<i2").tobytes()


def _samples(segment: AudioSegment) -> np.ndarray:
    """Return the mono segment's samples as int32 (so abs(-32768) does not overflow)."""
    segment = segment.set_sample_width(2) if segment.sample_width != 2 else segment
    return np.frombuffer(segment.raw_data, dtype="<i2").astype(np.int32)


def _bucket_peaks(samples: np.ndarray, points: int) -> list[float]:
    if samples.size == 0:
        return []
    count = min(points, samples.size)
    edges = np.linspace(0, samples.size, count + 1).astype(np.int64)[:-1]
    maxima = np.maximum.reduceat(np.abs(samples), edges) / FULL_SCALE
    return [round(float(v), 4) for v in np.minimum(maxima, 1.0)]


def peaks(source: AudioSource, points: int = 800) -> dict:
    """Return per-channel waveform peaks: max |sample| per bucket as a fraction of full scale.

    Full scale, not the file's own maximum, so a near-silent side draws as near-flat.
    """
    if points < 1:
        raise ValueError(f"points must be at least 1, got {points}")
    channels = split_channels(source)
    patient = _bucket_peaks(_samples(channels.patient), points)
    clinic = patient if channels.mixed else _bucket_peaks(_samples(channels.clinic), points)
    return {
        "patient": patient,
        "clinic": clinic,
        "duration": round(channels.patient.duration_seconds, 3),
        "mixed": channels.mixed,
    }


def window_dbfs(segment: AudioSegment, window_ms: int = 50) -> list[float]:
    """Return the RMS level in dBFS of each ``window_ms`` window (-inf for digital silence)."""
    samples = _samples(segment.set_channels(1) if segment.channels > 1 else segment)
    size = max(1, segment.frame_rate * window_ms // 1000)
    usable = samples[: samples.size - samples.size % size].astype(np.float64).reshape(-1, size)
    with np.errstate(divide="ignore"):
        levels = 20 * np.log10(np.sqrt((usable**2).mean(axis=1)) / FULL_SCALE)
    return [float(v) for v in levels]


def rms_dbfs(segment: AudioSegment) -> float:
    """Return the segment's overall RMS level in dBFS (-inf when silent or empty)."""
    samples = _samples(segment.set_channels(1) if segment.channels > 1 else segment)
    if samples.size == 0:
        return -math.inf
    rms = math.sqrt(float((samples.astype(np.float64) ** 2).mean()))
    return 20 * math.log10(rms / FULL_SCALE) if rms else -math.inf


def has_speech(
    segment: AudioSegment,
    threshold_dbfs: float = -45.0,
    *,
    min_active_ms: int = 200,
    window_ms: int = 50,
) -> bool:
    """Return whether at least ``min_active_ms`` of windows are louder than ``threshold_dbfs``.

    Energy only: a tone counts as sound. It lets the job skip transcribing a silent side.
    """
    loud = sum(1 for level in window_dbfs(segment, window_ms) if level > threshold_dbfs)
    return loud * window_ms >= min_active_ms


def _is_browser_wav(data: bytes) -> bool:
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            return wav.getsampwidth() == 2 and wav.getnchannels() in (1, 2)
    except (wave.Error, EOFError):
        return False


def to_browser_audio(source: AudioSource, fmt: str = "wav") -> bytes:
    """Return audio every browser plays: 16-bit PCM WAV (default, lossless) or MP3.

    A WAV that is already 16-bit PCM mono/stereo comes back byte-for-byte unchanged.
    """
    if fmt not in BROWSER_MIME:
        raise ValueError(f"fmt must be one of {', '.join(BROWSER_MIME)}, not {fmt!r}")
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as file:
            source = file.read()
    if fmt == "wav":
        if isinstance(source, bytes) and _is_browser_wav(source):
            return source
        segment = load(source)
        if segment.channels > 2:
            raise BadAudio(f"browser audio takes mono or stereo, got {segment.channels} channels")
        out = io.BytesIO()
        segment.set_sample_width(2).export(out, format="wav")
        return out.getvalue()
    segment = load(source)
    wav = io.BytesIO()
    segment.set_sample_width(2).export(wav, format="wav")
    # MPEG-1 rates (32/44.1/48 kHz) play everywhere; 8 kHz MPEG-2.5 does not.
    rate = segment.frame_rate if segment.frame_rate in (32000, 44100, 48000) else 32000
    bitrate = "64k" if segment.channels == 2 else "48k"
    return _ffmpeg(
        [
            "-f",
            "wav",
            "-i",
            "pipe:0",
            "-ar",
            str(rate),
            "-c:a",
            "libmp3lame",
            "-b:a",
            bitrate,
            "-f",
            "mp3",
            "pipe:1",
        ],
        wav.getvalue(),
        "MP3 encoding",
    )
