"""The Vosk engine: a Kaldi model loaded once, a fresh recognizer for every channel."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from recordings.models import ModelMissing, model_name_of
from recordings.transcribe import Segment, Word, check_pcm, join_words

log = logging.getLogger(__name__)

# Kaldi's MfccOptions/FbankOptions default when a model's feature config leaves the rate out (the
# packaged Korean model does): 16 kHz. Every official Vosk model is trained at that rate or states
# its own (8 kHz telephone models say --sample-frequency=8000).
KALDI_DEFAULT_SAMPLE_RATE = 16000
_SAMPLE_FREQUENCY = re.compile(r"^\s*--sample-frequency\s*=\s*([0-9.]+)\s*$", re.MULTILINE)

# 0.2 s per AcceptWaveform call: small enough that one call rarely spans two utterances (Vosk
# reports at most one endpoint per call), large enough to keep Python overhead negligible.
CHUNK_SECONDS = 0.2


def vosk_sample_rate(model_dir: Path) -> int:
    """Read the rate the model's features are computed at from ``conf/mfcc.conf``."""
    for name in ("mfcc.conf", "fbank.conf"):
        conf = model_dir / "conf" / name
        if conf.is_file():
            found = _SAMPLE_FREQUENCY.search(conf.read_text(encoding="utf-8", errors="replace"))
            return int(float(found.group(1))) if found else KALDI_DEFAULT_SAMPLE_RATE
    raise ModelMissing(
        f"{model_dir} is not a Vosk model: it has no conf/mfcc.conf",
        path=model_dir,
    )


class VoskTranscriber:
    """Transcribe with one Vosk model; safe to share, each call has its own recognizer."""

    engine = "vosk"

    def __init__(self, model_dir: str | Path) -> None:
        import vosk

        model_dir = Path(model_dir)
        if not model_dir.is_dir():
            raise ModelMissing(f"Vosk model folder {model_dir} does not exist", path=model_dir)
        self.sample_rate = vosk_sample_rate(model_dir)
        self.model_name = model_name_of(model_dir)
        # Kaldi logs every loading step to stderr; the worker's own log says what matters.
        vosk.SetLogLevel(-1)
        self._vosk = vosk
        # A path (never a name or language): vosk.Model would download a model by name.
        self._model = vosk.Model(str(model_dir))
        log.info(
            "loaded vosk model %s (%s Hz) from %s", self.model_name, self.sample_rate, model_dir
        )

    def transcribe(self, pcm: bytes, language: str) -> list[Segment]:
        """Recognize one channel; every endpoint Vosk detects becomes one segment."""
        check_pcm(pcm)
        recognizer = self._vosk.KaldiRecognizer(self._model, self.sample_rate)
        recognizer.SetWords(True)
        chunk = int(self.sample_rate * CHUNK_SECONDS) * 2
        view = memoryview(pcm)
        segments: list[Segment] = []
        for offset in range(0, len(view), chunk):
            if recognizer.AcceptWaveform(bytes(view[offset : offset + chunk])):
                segments.extend(self._segment(recognizer.Result(), language))
        segments.extend(self._segment(recognizer.FinalResult(), language))
        return segments

    def _segment(self, result_json: str, language: str) -> list[Segment]:
        result = json.loads(result_json)
        words = tuple(
            Word(
                text=item["word"],
                start=float(item["start"]),
                end=float(item["end"]),
                confidence=min(1.0, max(0.0, float(item.get("conf", 1.0)))),
            )
            for item in result.get("result", ())
            if item.get("word")
        )
        if not words:  # silence or noise: no segment at all, never an empty-text one
            return []
        return [
            Segment(
                start=words[0].start,
                end=words[-1].end,
                text=join_words([word.text for word in words], language),
                words=words,
                language=language,
                engine=self.engine,
                model=self.model_name,
            )
        ]
