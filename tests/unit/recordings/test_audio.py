"""Channel split, resampling, peaks and browser audio on real FreeSWITCH and espeak-ng audio."""

from __future__ import annotations

import io
import itertools
import math
import subprocess
import wave

import numpy as np
import pytest

from recordings import audio
from recordings.audio import AudioSegment, BadAudio

from .samples import MONO_8K, MONO_16K, STEREO_8K


def _tone(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> AudioSegment:
    t = np.arange(int(rate * seconds)) / rate
    samples = (amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2")
    return AudioSegment(data=samples.tobytes(), sample_width=2, frame_rate=rate, channels=1)


def _pcm(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float64)


def _wav_channels(path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        raw = wav.readframes(wav.getnframes())
        return np.frombuffer(raw, dtype="<i2").reshape(-1, wav.getnchannels())


def test_stereo_splits_left_to_patient_and_right_to_clinic():
    channels = audio.split_channels(STEREO_8K)
    assert not channels.mixed
    frames = _wav_channels(STEREO_8K)
    assert channels.patient.raw_data == frames[:, 0].tobytes()
    assert channels.clinic.raw_data == frames[:, 1].tobytes()
    assert channels.patient.frame_rate == 8000 and channels.patient.channels == 1


def test_speech_only_on_the_left_leaves_the_clinic_side_silent(speech_left_stereo):
    patient, clinic = audio.split_channels(speech_left_stereo)
    assert audio.has_speech(patient)
    assert audio.rms_dbfs(patient) > -35
    assert not audio.has_speech(clinic)
    assert audio.rms_dbfs(clinic) == -math.inf


def test_the_real_recording_has_speech_left_and_goes_quiet_on_the_right():
    patient, clinic = audio.split_channels(STEREO_8K)
    assert audio.has_speech(patient[4000:])
    assert not audio.has_speech(clinic[4000:])  # only a prompt in the first 3 s on the right


@pytest.mark.parametrize("path", [MONO_8K, MONO_16K])
def test_mono_is_one_mixed_channel(path):
    channels = audio.split_channels(path)
    assert channels.mixed
    assert channels.patient is channels.clinic
    assert channels.patient.raw_data == _wav_channels(path)[:, 0].tobytes()


def test_more_than_two_channels_are_refused():
    tone = _tone(440, 8000, 0.1)
    three = AudioSegment.from_mono_audiosegments(tone, tone, tone)
    with pytest.raises(BadAudio, match="3 channels"):
        audio.split_channels(three)


def test_same_rate_mono_is_returned_untouched():
    patient = audio.split_channels(MONO_16K).patient
    assert audio.to_pcm16_mono(patient, 16000) == patient.raw_data


@pytest.mark.parametrize(("source_rate", "target_rate"), [(8000, 16000), (22050, 16000)])
def test_resampling_keeps_duration_and_pitch(source_rate, target_rate):
    pcm = _pcm(audio.to_pcm16_mono(_tone(440, source_rate, 2.0), target_rate))
    assert abs(pcm.size - 2.0 * target_rate) <= 2
    spectrum = np.abs(np.fft.rfft(pcm))
    peak_hz = np.argmax(spectrum) * target_rate / pcm.size
    assert abs(peak_hz - 440) < 2


def test_downsampling_filters_what_the_new_rate_cannot_hold():
    """A 7 kHz tone does not fold back to 1 kHz at 8 kHz, as linear interpolation would."""
    pcm = _pcm(audio.to_pcm16_mono(_tone(7000, 16000, 1.0), 8000))
    residual_dbfs = 20 * math.log10(max(np.sqrt((pcm**2).mean()), 1e-9) / 32768)
    assert residual_dbfs < -40  # the input tone is at -9 dBFS


def test_real_speech_survives_a_round_trip_through_16k():
    patient = audio.split_channels(STEREO_8K).patient
    up = audio.to_pcm16_mono(patient, 16000)
    assert len(up) == 2 * len(patient.raw_data)
    up_segment = AudioSegment(data=up, sample_width=2, frame_rate=16000, channels=1)
    back = _pcm(audio.to_pcm16_mono(up_segment, 8000))
    original = _pcm(patient.raw_data)
    n = min(back.size, original.size)
    assert np.corrcoef(back[:n], original[:n])[0, 1] > 0.95


def test_stereo_input_is_mixed_down(speech_left_stereo):
    stereo = audio.load(speech_left_stereo)
    mono = _pcm(audio.to_pcm16_mono(stereo, 8000))
    left = _pcm(audio.split_channels(stereo).patient.raw_data)
    assert mono.size == left.size
    assert np.abs(mono - left / 2).max() <= 1  # silence on the right halves the level


def test_bad_rate_is_refused():
    with pytest.raises(ValueError, match="sample_rate"):
        audio.to_pcm16_mono(_tone(440, 8000, 0.1), 0)


def test_peaks_of_the_real_recording():
    result = audio.peaks(STEREO_8K, points=800)
    assert result["duration"] == pytest.approx(10.76, abs=0.001)
    assert len(result["patient"]) == len(result["clinic"]) == 800
    frames = _wav_channels(STEREO_8K).astype(np.int32)
    edges = np.linspace(0, frames.shape[0], 801).astype(int)
    for side, column in (("patient", 0), ("clinic", 1)):
        expected = [np.abs(frames[a:b, column]).max() / 32768 for a, b in itertools.pairwise(edges)]
        assert result[side] == pytest.approx(expected, abs=1e-4)
    assert all(0.0 <= v <= 1.0 for v in result["patient"] + result["clinic"])
    assert max(result["clinic"][400:]) == 0.0  # the clinic side is silent after the prompt
    assert max(result["patient"]) > 0.5


def test_peaks_of_mono_and_tiny_and_empty_audio():
    mono = audio.peaks(MONO_16K, points=100)
    assert mono["mixed"] and mono["patient"] == mono["clinic"] and len(mono["patient"]) == 100
    tiny = audio.peaks(_tone(440, 8000, 0.01, amplitude=0.25), points=800)
    assert len(tiny["patient"]) == 80  # one point per sample when there are fewer samples
    assert max(tiny["patient"]) == pytest.approx(0.25, abs=0.01)
    empty = audio.peaks(AudioSegment.empty().set_frame_rate(8000), points=10)
    assert empty == {"patient": [], "clinic": [], "duration": 0.0, "mixed": True}
    with pytest.raises(ValueError, match="points"):
        audio.peaks(MONO_16K, points=0)


def test_levels_of_a_known_tone():
    tone = _tone(440, 8000, 1.0, amplitude=0.5)
    assert audio.rms_dbfs(tone) == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.05)
    assert len(audio.window_dbfs(tone, 50)) == 20
    assert audio.has_speech(tone)
    assert not audio.has_speech(tone[:100])  # shorter than min_active_ms
    assert not audio.has_speech(_tone(440, 8000, 1.0, amplitude=0.001))  # -63 dBFS


def test_browser_wav_is_the_original_bytes_when_already_pcm16(espeak_wav):
    assert audio.to_browser_audio(STEREO_8K) == STEREO_8K.read_bytes()
    assert audio.to_browser_audio(espeak_wav.read_bytes()) == espeak_wav.read_bytes()


def _ffmpeg_convert(src, *args) -> bytes:
    done = subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(src), *args, "pipe:1"],
        capture_output=True,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize("codec", ["pcm_alaw", "pcm_u8", "pcm_s24le"])
def test_other_wav_encodings_become_pcm16(tmp_path, codec):
    source = tmp_path / f"{codec}.wav"
    source.write_bytes(_ffmpeg_convert(STEREO_8K, "-c:a", codec, "-f", "wav"))
    out = audio.to_browser_audio(source)
    with wave.open(io.BytesIO(out), "rb") as wav:
        assert (wav.getsampwidth(), wav.getnchannels(), wav.getframerate()) == (2, 2, 8000)
        assert wav.getnframes() / 8000 == pytest.approx(10.76, abs=0.01)


def test_mp3_output_decodes_to_the_same_call():
    mp3 = audio.to_browser_audio(STEREO_8K, "mp3")
    assert mp3[:3] == b"ID3" or (mp3[0] == 0xFF and mp3[1] & 0xE0 == 0xE0)
    assert len(mp3) < STEREO_8K.stat().st_size / 3
    decoded = audio.load(mp3)
    assert decoded.channels == 2 and decoded.frame_rate == 32000
    assert decoded.duration_seconds == pytest.approx(10.76, abs=0.1)
    patient, clinic = audio.split_channels(decoded)
    assert audio.has_speech(patient[4000:]) and not audio.has_speech(clinic[4000:])


def test_bad_format_and_bad_input_give_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="fmt must be one of wav, mp3"):
        audio.to_browser_audio(STEREO_8K, "ogg")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio at all " * 20)
    with pytest.raises(BadAudio, match="could not be decoded") as caught:
        audio.load(junk)
    assert "ffmpeg version" not in str(caught.value)  # the banner is noise
    with pytest.raises(BadAudio, match="does not exist"):
        audio.load(tmp_path / "missing.wav")
    with pytest.raises(BadAudio, match="empty"):
        audio.load(b"")
