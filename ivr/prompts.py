"""Prompt audio: uploaded recordings per campaign win; otherwise text-to-speech, cached.

FreeSWITCH plays files from a path it can read, so a store hands out paths. The built-in TTS
engine is espeak-ng (Debian), whose output is converted to what telephony wants: 8 kHz mono
16-bit WAV. A generated file is named by sha256(engine, voice, language, text), so one text is
synthesized once per installation and concurrent calls wait for the same synthesis.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class PromptError(RuntimeError):
    """A prompt could not be produced (TTS failed, uploaded file missing)."""


class PromptStore(Protocol):
    """Where prompt files live; another store (a shared volume, S3 + local cache) plugs in."""

    def path(self, name: str) -> str: ...
    def exists(self, name: str) -> bool: ...
    def put(self, name: str, data: bytes) -> str: ...


class LocalPromptStore:
    """Prompt files in a folder, e.g. ``RECORDINGS_STORE_DIR/prompts``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, name: str) -> str:
        if name.startswith("/") or ".." in Path(name).parts:
            raise PromptError(f"prompt name {name!r} must be relative, without '..'")
        return str(self.root / name)

    def exists(self, name: str) -> bool:
        return Path(self.path(name)).is_file()

    def put(self, name: str, data: bytes) -> str:
        target = Path(self.path(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)  # readers never see half a file
        return str(target)


class TtsEngine(Protocol):
    name: str

    def voice(self, language: str) -> str: ...
    async def synthesize(self, text: str, language: str) -> bytes: ...


class EspeakTts:
    """espeak-ng, then ffmpeg to 8 kHz mono 16-bit WAV."""

    name = "espeak-ng"
    VOICES = {"zh": "cmn", "en": "en"}

    def __init__(self, voices: dict[str, str] | None = None, speed: int = 150):
        self.voices = {**self.VOICES, **(voices or {})}
        self.speed = speed

    def voice(self, language: str) -> str:
        return self.voices.get(language, self.voices["en"])

    async def synthesize(self, text: str, language: str) -> bytes:
        with tempfile.TemporaryDirectory(prefix="tts-") as folder:
            raw, out = Path(folder) / "raw.wav", Path(folder) / "out.wav"
            await _run(
                "espeak-ng", "-v", self.voice(language), "-s", str(self.speed),
                "-w", str(raw), "--", text,
            )  # fmt: skip
            await _run(
                "ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(raw),
                "-ar", "8000", "-ac", "1", "-sample_fmt", "s16", str(out),
            )  # fmt: skip
            return out.read_bytes()


async def _run(*argv: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        raise PromptError(f"{argv[0]} failed ({process.returncode}): {err.decode()[-300:]}")


def tts_name(engine: TtsEngine, text: str, language: str) -> str:
    """The cache file name of a synthesized text."""
    voice = engine.voice(language)
    digest = hashlib.sha256("\x00".join((engine.name, voice, language, text)).encode()).hexdigest()
    return f"tts/{digest[:2]}/{digest}.wav"


class PromptLibrary:
    """Turns (text or uploaded audio) into a playable path."""

    def __init__(self, store: PromptStore, engine: TtsEngine | None = None):
        self.store = store
        self.engine = engine or EspeakTts()
        self._pending: dict[str, asyncio.Future[str]] = {}
        # Names known to be in the store: no file-system call on the event loop per prompt.
        # Prompt files are only ever added (names are content hashes), so the set stays true.
        self._known: set[str] = set()

    def uploaded(self, audio_key: str) -> str:
        if not self.store.exists(audio_key):
            raise PromptError(f"uploaded prompt {audio_key!r} is not in the prompt store")
        return self.store.path(audio_key)

    async def speak(self, text: str, language: str) -> str:
        """The path of ``text`` spoken in ``language``, synthesized on first use."""
        name = tts_name(self.engine, text, language)
        if name in self._known or self.store.exists(name):
            self._known.add(name)
            return self.store.path(name)
        pending = self._pending.get(name)
        if pending is None:  # the first caller synthesizes; the others await the same future
            pending = asyncio.ensure_future(self._synthesize(name, text, language))
            self._pending[name] = pending
            pending.add_done_callback(lambda _f: self._pending.pop(name, None))
        return await asyncio.shield(pending)

    async def _synthesize(self, name: str, text: str, language: str) -> str:
        data = await self.engine.synthesize(text, language)
        path = await asyncio.to_thread(self.store.put, name, data)
        self._known.add(name)
        log.info("synthesized prompt %s (%s, %s bytes)", name, language, len(data))
        return path


def store_from_config(config) -> LocalPromptStore:
    """The prompt store under the recordings store folder."""
    root = Path(config.get("RECORDINGS_STORE_DIR") or "instance/store")
    if not root.is_absolute():
        from callcenter.config import PROJECT_ROOT

        root = PROJECT_ROOT / root
    return LocalPromptStore(root / "prompts")
