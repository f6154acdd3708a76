"""Speech to text behind one interface, whichever engine does the work.

The caller splits a stereo recording into its channels and transcribes each one separately, so the
speaker (patient or clinic) is known from the channel and never guessed here. Engines:

- ``vosk`` (default): Kaldi models, word timestamps from the recognizer; see ``engines_vosk``.
- ``whisper``: faster-whisper (CTranslate2) models from a local folder; see ``engines_whisper``.

Models are heavy, so ``load_transcriber`` loads each one once per process and hands out the same
object afterwards; a transcriber keeps no state between calls and may be shared by threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from recordings.models import ModelMissing

__all__ = [
    "ENGINES",
    "EngineSettingError",
    "ModelMissing",
    "Segment",
    "Transcriber",
    "Word",
    "engine_for",
    "join_words",
    "load_transcriber",
]

ENGINES = ("vosk", "whisper")
DEFAULT_ENGINE = "vosk"


@dataclass(frozen=True)
class Word:
    text: str
    start: float  # seconds from the start of the channel
    end: float
    confidence: float  # 0..1 as the engine reports it


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...]
    language: str
    engine: str
    model: str


class Transcriber(Protocol):
    engine: str
    model_name: str
    sample_rate: int  # the rate the model wants, read from the model's own configuration

    def transcribe(self, pcm: bytes, language: str) -> list[Segment]:
        """Turn 16-bit little-endian mono PCM at ``sample_rate`` into segments; silence gives []."""
        ...


class EngineSettingError(ValueError):
    """``TRANSCRIBE_ENGINE`` does not parse; the message quotes the bad part."""

    error_id = "engine_setting_invalid"


def engine_for(setting: str | None, language: str) -> str:
    """Return the engine ``TRANSCRIBE_ENGINE`` names for ``language``.

    The setting is one engine for every language (``vosk``) or per language
    (``zh=vosk,en=whisper``); a language it does not list uses the default engine, vosk.
    """
    text = (setting or "").strip().lower()
    if not text:
        return DEFAULT_ENGINE
    if "=" not in text and "," not in text:
        return _known_engine(text, setting)
    chosen: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lang, sep, engine = (piece.strip() for piece in part.partition("="))
        if not sep or not lang or not engine:
            raise EngineSettingError(
                f"TRANSCRIBE_ENGINE={setting!r}: {part!r} is not language=engine "
                "(expected e.g. 'zh=vosk,en=whisper')"
            )
        if lang in chosen:
            raise EngineSettingError(f"TRANSCRIBE_ENGINE={setting!r}: {lang!r} is given twice")
        chosen[lang] = _known_engine(engine, setting)
    return chosen.get(language.strip().lower(), DEFAULT_ENGINE)


def _known_engine(engine: str, setting: str | None) -> str:
    if engine not in ENGINES:
        raise EngineSettingError(
            f"TRANSCRIBE_ENGINE={setting!r}: unknown engine {engine!r}; use one of "
            f"{', '.join(ENGINES)}"
        )
    return engine


def join_words(words: list[str], language: str) -> str:
    """Join recognized words the way the language is written: Chinese without spaces."""
    if language.lower().startswith("zh"):
        return "".join(words)
    return " ".join(words)


def check_pcm(pcm: bytes) -> None:
    """Refuse input that cannot be 16-bit samples, naming the problem."""
    if not isinstance(pcm, bytes | bytearray | memoryview):
        raise TypeError(f"pcm must be bytes of 16-bit samples, not {type(pcm).__name__}")
    if len(pcm) % 2:
        raise ValueError(f"pcm has an odd length ({len(pcm)} bytes): not 16-bit samples")


_cache: dict[tuple[str, str], Transcriber] = {}
_cache_lock = threading.Lock()


def load_transcriber(engine: str, model_path: str | Path, language: str) -> Transcriber:
    """Return the transcriber for this engine and model, loading the model once per process.

    ``language`` is checked against what the model can do (an English-only whisper model refuses
    ``zh`` here, at load time, rather than on the first recording).
    """
    engine = engine.strip().lower()
    if engine not in ENGINES:
        raise EngineSettingError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    key = (engine, str(Path(model_path).resolve()))
    # One lock for all loads: two threads asking at once must not load a model twice.
    with _cache_lock:
        transcriber = _cache.get(key)
        if transcriber is None:
            transcriber = _load(engine, Path(key[1]))
            _cache[key] = transcriber
    checker = getattr(transcriber, "check_language", None)
    if checker is not None:
        checker(language)
    return transcriber


def _load(engine: str, path: Path) -> Transcriber:
    if engine == "vosk":
        from recordings.engines_vosk import VoskTranscriber

        return VoskTranscriber(path)
    from recordings.engines_whisper import WhisperTranscriber

    return WhisperTranscriber(path)


def clear_cache() -> None:
    """Forget loaded models (tests and a worker that reloads its configuration)."""
    with _cache_lock:
        _cache.clear()
