"""Choosing an engine and a model folder from settings; the test WER measure itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from recordings.models import ModelMissing, model_name_of, model_path_for, packaged_whisper_en
from recordings.transcribe import EngineSettingError, engine_for, join_words, load_transcriber
from tests.unit.transcribe.speech import word_error_rate


@pytest.mark.parametrize(
    ("setting", "language", "engine"),
    [
        ("vosk", "zh", "vosk"),
        ("whisper", "zh", "whisper"),
        (" Whisper ", "en", "whisper"),
        ("", "en", "vosk"),
        (None, "zh", "vosk"),
        ("zh=vosk,en=whisper", "en", "whisper"),
        ("zh=vosk,en=whisper", "zh", "vosk"),
        ("en=whisper", "zh", "vosk"),  # a language left out uses the default
        ("zh = whisper , ", "zh", "whisper"),
    ],
)
def test_engine_for(setting, language, engine):
    assert engine_for(setting, language) == engine


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("kaldi", "unknown engine 'kaldi'"),
        ("zh=vosk,en=kaldi", "unknown engine 'kaldi'"),
        ("zh=vosk,en", "'en' is not language=engine"),
        ("zh=,en=vosk", "'zh=' is not language=engine"),
        ("zh=vosk,zh=whisper", "'zh' is given twice"),
    ],
)
def test_engine_setting_errors_quote_the_bad_part(setting, message):
    with pytest.raises(EngineSettingError, match=message):
        engine_for(setting, "zh")


def model_folder(path: Path) -> Path:
    (path / "conf").mkdir(parents=True)
    return path


def test_empty_vosk_settings_mean_the_official_folders_under_models_dir(tmp_path: Path):
    zh = model_folder(tmp_path / "vosk-model-small-cn-0.22")
    en = model_folder(tmp_path / "vosk-model-small-en-us-0.15")
    settings = {"MODELS_DIR": str(tmp_path), "VOSK_MODEL_ZH": "", "VOSK_MODEL_EN": ""}
    assert model_path_for("vosk", "zh", settings) == zh
    assert model_path_for("vosk", "en", settings) == en


def test_a_set_path_wins(tmp_path: Path):
    mine = model_folder(tmp_path / "my-model")
    assert model_path_for("vosk", "zh", {"MODELS_DIR": "/x", "VOSK_MODEL_ZH": str(mine)}) == mine
    assert model_path_for("whisper", "zh", {"WHISPER_MODEL_ZH": str(mine)}) == mine


def test_empty_whisper_en_means_the_packaged_tiny_en():
    path = model_path_for("whisper", "en", {"WHISPER_MODEL_EN": ""})
    assert path == packaged_whisper_en()
    assert model_name_of(path) == "tiny.en"


def test_missing_models_say_which_setting_and_what_to_run(tmp_path: Path):
    with pytest.raises(ModelMissing) as missing:
        model_path_for("vosk", "zh", {"MODELS_DIR": str(tmp_path), "VOSK_MODEL_ZH": ""})
    message = str(missing.value)
    assert "VOSK_MODEL_ZH" in message and "flask models download zh" in message
    assert str(tmp_path / "vosk-model-small-cn-0.22") in message
    assert (missing.value.setting, missing.value.error_id) == ("VOSK_MODEL_ZH", "model_missing")

    with pytest.raises(ModelMissing, match=r"VOSK_MODEL_EN=/no/such is not a folder.*download en"):
        model_path_for("vosk", "en", {"VOSK_MODEL_EN": "/no/such"})
    with pytest.raises(ModelMissing, match="WHISPER_MODEL_ZH is empty"):
        model_path_for("whisper", "zh", {"WHISPER_MODEL_ZH": ""})
    with pytest.raises(ModelMissing, match="no model setting for engine 'vosk' and language 'fr'"):
        model_path_for("vosk", "fr", {})


def test_unknown_engine_is_refused_before_loading(tmp_path: Path):
    with pytest.raises(EngineSettingError, match="unknown engine 'kaldi'"):
        load_transcriber("kaldi", tmp_path, "zh")


def test_model_names(tmp_path: Path):
    assert model_name_of(tmp_path / "vosk-model-small-cn-0.22") == "vosk-model-small-cn-0.22"
    package = tmp_path / "some_model_pkg"
    (package / "model").mkdir(parents=True)
    assert model_name_of(package / "model") == "some-model-pkg"
    (package / "__init__.py").write_text('"""x"""\nMODEL_NAME = "base.en"\n')
    assert model_name_of(package / "model") == "base.en"


def test_join_words():
    assert join_words(["请", "按时", "吃药"], "zh") == "请按时吃药"
    assert join_words(["take", "your", "medicine"], "en") == "take your medicine"


def test_word_error_rate():
    assert word_error_rate("Take your medicine.", "take your MEDICINE") == 0.0
    assert word_error_rate("take your medicine", "take medicine") == pytest.approx(1 / 3)
    assert word_error_rate("take your medicine", "take her medicine daily") == pytest.approx(2 / 3)
    assert word_error_rate("take", "") == 1.0
    assert word_error_rate("", "") == 0.0
