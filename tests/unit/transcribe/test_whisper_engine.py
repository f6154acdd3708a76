"""The faster-whisper engine on the packaged tiny.en model: real words from real speech."""

from __future__ import annotations

from pathlib import Path

import pytest

from recordings.models import ModelMissing, packaged_whisper_en
from recordings.transcribe import load_transcriber
from tests.unit.transcribe.speech import inside_speech, resample, silence, word_error_rate

# Measured on this machine (tiny.en, int8, beam 5, temperature 0): WER 0.029 on 16 kHz espeak-ng
# speech (one error in 34 words: "short on breath"), 0.23 after an 8 kHz telephone round trip.
# The thresholds leave room for int8 kernels that round differently on other CPUs, yet still fail
# if audio were garbled (wrong rate, wrong byte order, channels mixed): that yields WER near 1.
WER_16K = 0.15
WER_8K = 0.40


def words_in(segments) -> list:
    return [word for segment in segments for word in segment.words]


def assert_timing(segments, speech) -> None:
    previous_start = 0.0
    for segment in segments:
        assert 0.0 <= segment.start <= segment.end <= speech.duration
        for word in segment.words:
            assert previous_start <= word.start <= word.end <= speech.duration
            assert 0.0 <= word.confidence <= 1.0
            previous_start = word.start
    assert all(inside_speech((w.start + w.end) / 2, speech.spans, 0.3) for w in words_in(segments))


def test_rate_and_name_come_from_the_model(whisper_en):
    # No preprocessor_config.json in the folder: faster-whisper's FeatureExtractor default.
    assert not (packaged_whisper_en() / "preprocessor_config.json").exists()
    assert whisper_en.sample_rate == 16000
    assert (whisper_en.engine, whisper_en.model_name) == ("whisper", "tiny.en")


def test_transcribes_real_words(whisper_en, speech16k):
    segments = whisper_en.transcribe(speech16k.pcm, "en")

    text = " ".join(segment.text for segment in segments)
    assert word_error_rate(speech16k.text, text) <= WER_16K, text
    assert len(segments) == len(speech16k.spans)  # one per sentence
    assert_timing(segments, speech16k)
    assert {(s.engine, s.model, s.language) for s in segments} == {("whisper", "tiny.en", "en")}
    joined = " ".join(word.text for word in words_in(segments))
    assert word_error_rate(speech16k.text, joined) <= WER_16K


def test_telephone_audio_resampled_still_gives_words(whisper_en, speech8k):
    segments = whisper_en.transcribe(resample(speech8k.pcm, 8000, 16000), "en")

    text = " ".join(segment.text for segment in segments)
    assert word_error_rate(speech8k.text, text) <= WER_8K, text
    assert_timing(segments, speech8k)


def test_silence_gives_no_segments(whisper_en):
    # Without the VAD filter tiny.en "hears" a "You" in pure silence.
    assert whisper_en.transcribe(silence(5, 16000), "en") == []
    assert whisper_en.transcribe(b"", "en") == []


def test_an_english_only_model_refuses_chinese(whisper_en):
    with pytest.raises(ValueError, match="cannot transcribe 'zh'"):
        whisper_en.transcribe(silence(1, 16000), "zh")
    with pytest.raises(ValueError, match="cannot transcribe 'zh'"):
        load_transcriber("whisper", packaged_whisper_en(), "zh")


def test_a_missing_model_folder_is_a_clear_error_not_a_download(tmp_path: Path):
    with pytest.raises(ModelMissing, match="not a faster-whisper model folder"):
        load_transcriber("whisper", tmp_path / "tiny.en", "en")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "model.bin").write_bytes(b"x")
    with pytest.raises(ModelMissing, match=r"missing: config\.json, tokenizer\.json"):
        load_transcriber("whisper", tmp_path / "half", "en")
