import pytest

from callcenter import create_app
from callcenter.config import ConfigError, load_config, normalize_database_url


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def test_production_starts_with_secret_key(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("RECORDING_KEYS", "k1:" + "A" * 44)
    monkeypatch.setenv("DATABASE_URL", "sqlite:///:memory:")
    assert create_app().config["SECRET_KEY"] == "s" * 40


def test_production_refuses_to_start_without_recording_keys(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.delenv("RECORDING_KEYS", raising=False)
    with pytest.raises(ConfigError, match="RECORDING_KEYS"):
        load_config()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEFAULT_LANGUAGE", "fr", "DEFAULT_LANGUAGE"),
        ("DEFAULT_TIMEZONE", "Mars/Olympus", "IANA"),
        ("APP_ENV", "staging", "APP_ENV"),
    ],
)
def test_bad_settings_say_which_and_why(monkeypatch, name, value, message):
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load_config()


def test_database_urls_are_normalized():
    assert normalize_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("sqlite:///instance/x.db").startswith("sqlite:////")
    assert normalize_database_url("sqlite:////abs/x.db") == "sqlite:////abs/x.db"


def test_defaults(monkeypatch):
    for name in ("DEFAULT_REGION", "DEFAULT_TIMEZONE", "DEFAULT_LANGUAGE", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APP_ENV", "test")
    config = load_config()
    assert config["DEFAULT_REGION"] == "CN"
    assert config["DEFAULT_TIMEZONE"] == "Asia/Shanghai"
    assert config["DEFAULT_LANGUAGE"] == "zh"
    assert config["SQLALCHEMY_DATABASE_URI"].endswith("instance/callcenter.db")


def test_the_readme_documents_every_setting():
    from pathlib import Path

    from callcenter.config import SETTINGS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [s.name for s in SETTINGS if f"| `{s.name}` |" not in readme]
    assert missing == []
