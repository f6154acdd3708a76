"""Real speech for the transcription tests: espeak-ng voices, ffmpeg resampling, a WER measure."""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SENTENCES = (
    "please take your blood pressure medicine every morning",
    "your next appointment at the clinic is on monday",
    "have you checked your blood sugar this week",
    "call us if you feel dizzy or short of breath",
)


@dataclass(frozen=True)
class Speech:
    pcm: bytes  # 16-bit little-endian mono
    rate: int
    spans: tuple[tuple[float, float], ...]  # where each sentence is spoken, in seconds
    text: str

    @property
    def duration(self) -> float:
        return len(self.pcm) / 2 / self.rate


def to_pcm(wav: Path, rate: int) -> bytes:
    """Decode and resample a file with ffmpeg (a proper low-pass, unlike naive decimation)."""
    command = ["ffmpeg", "-loglevel", "error", "-i", str(wav)]
    command += ["-f", "s16le", "-acodec", "pcm_s16le", "-ac", "1", "-ar", str(rate), "-"]
    return subprocess.run(command, check=True, capture_output=True).stdout


def resample(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Resample raw 16-bit mono PCM with ffmpeg."""
    command = ["ffmpeg", "-loglevel", "error", "-f", "s16le", "-ar", str(from_rate), "-ac", "1"]
    command += ["-i", "-", "-f", "s16le", "-ar", str(to_rate), "-ac", "1", "-"]
    return subprocess.run(command, input=pcm, check=True, capture_output=True).stdout


def silence(seconds: float, rate: int) -> bytes:
    return bytes(int(seconds * rate) * 2)


def speak(sentences: tuple[str, ...] = SENTENCES, *, rate: int = 16000, gap: float = 2.0) -> Speech:
    """Say each sentence with espeak-ng, with ``gap`` seconds of silence around each one."""
    pcm = bytearray(silence(0.5, rate))
    spans = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, sentence in enumerate(sentences):
            wav = Path(tmp) / f"s{index}.wav"
            subprocess.run(
                ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), sentence], check=True
            )
            said = to_pcm(wav, rate)
            start = len(pcm) / 2 / rate
            pcm += said
            spans.append((start, len(pcm) / 2 / rate))
            pcm += silence(gap, rate)
    return Speech(bytes(pcm), rate, tuple(spans), " ".join(sentences))


def normalise(text: str) -> list[str]:
    """Lower-case words without punctuation, so "Monday." matches "monday"."""
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Return (substitutions + deletions + insertions) / reference words, by edit distance."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i]
        for j, hyp_word in enumerate(hyp, start=1):
            current.append(
                min(
                    previous[j] + 1,  # deletion
                    current[j - 1] + 1,  # insertion
                    previous[j - 1] + (ref_word != hyp_word),  # substitution or match
                )
            )
        previous = current
    return previous[-1] / len(ref)


def inside_speech(seconds: float, spans: tuple[tuple[float, float], ...], slack: float) -> bool:
    """Whether a time falls in one of the spoken spans, give or take ``slack`` seconds."""
    return any(start - slack <= seconds <= end + slack for start, end in spans)
