"""The faster-whisper engine: a local CTranslate2 Whisper model, decoded deterministically."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from recordings.models import ModelMissing, model_name_of
from recordings.transcribe import Segment, Word, check_pcm, join_words

log = logging.getLogger(__name__)

# Files faster-whisper reads from the folder; without tokenizer.json it would fetch one from the
# Hugging Face hub, which a worker must never do.
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")


class WhisperTranscriber:
    """Transcribe with one faster-whisper model on the CPU (int8)."""

    engine = "whisper"

    def __init__(
        self, model_dir: str | Path, *, cpu_threads: int = 1, vad_filter: bool = True
    ) -> None:
        model_dir = Path(model_dir)
        missing = [name for name in REQUIRED_FILES if not (model_dir / name).is_file()]
        if not model_dir.is_dir() or missing:
            raise ModelMissing(
                f"{model_dir} is not a faster-whisper model folder "
                f"(missing: {', '.join(missing) or 'the folder'})",
                path=model_dir,
            )
        # Defensive: even a bug that passed a model *name* must not reach the network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel

        # One thread per worker process: workers scale by process, and two threads fighting
        # over the same cores in every worker only add contention.
        self._model = WhisperModel(
            str(model_dir), device="cpu", compute_type="int8", cpu_threads=cpu_threads
        )
        # faster-whisper builds its FeatureExtractor from the folder's preprocessor_config.json
        # when there is one, else from its defaults (16 kHz); either way this is the model's rate.
        self.sample_rate = int(self._model.feature_extractor.sampling_rate)
        self.model_name = model_name_of(model_dir)
        # Whisper invents words ("you", "thank you") over silence; the bundled Silero VAD cuts
        # silence out first, which also saves the decoder the silent half of every channel.
        self.vad_filter = vad_filter
        log.info("loaded whisper model %s from %s", self.model_name, model_dir)

    def check_language(self, language: str) -> None:
        """Refuse a language the model cannot transcribe, before any recording is tried."""
        supported = self._model.supported_languages
        if language not in supported:
            raise ValueError(
                f"whisper model {self.model_name} cannot transcribe {language!r}: it supports "
                f"{', '.join(supported[:10])}{' ...' if len(supported) > 10 else ''}"
            )

    def transcribe(self, pcm: bytes, language: str) -> list[Segment]:
        """Recognize one channel; segments with words, times clamped to the audio."""
        import numpy as np

        check_pcm(pcm)
        self.check_language(language)
        if not pcm:
            return []
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        duration = len(audio) / self.sample_rate
        found, _info = self._model.transcribe(
            audio,
            language=language,
            temperature=0,  # one deterministic pass, no sampling fallback
            condition_on_previous_text=False,  # a misheard segment cannot poison the next
            word_timestamps=True,
            vad_filter=self.vad_filter,
        )
        segments = []
        for piece in found:
            words = tuple(
                Word(
                    text=word.word.strip(),
                    start=_clamp(word.start, duration),
                    end=_clamp(word.end, duration),
                    confidence=min(1.0, max(0.0, float(word.probability))),
                )
                for word in piece.words or ()
                if word.word.strip()
            )
            text = piece.text.strip()
            if not text or not words:
                continue
            if language.startswith("zh"):
                text = join_words([word.text for word in words], language)
            segments.append(
                Segment(
                    start=_clamp(piece.start, duration),
                    end=_clamp(piece.end, duration),
                    text=text,
                    words=words,
                    language=language,
                    engine=self.engine,
                    model=self.model_name,
                )
            )
        return segments


def _clamp(seconds: float, duration: float) -> float:
    # Whisper rounds to 20 ms frames and may overshoot the last sample by one frame.
    return round(min(max(0.0, float(seconds)), duration), 3)
