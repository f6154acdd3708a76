"""``flask models ...``: fetch the official Vosk models and show which model each language uses."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from callcenter.config import LANGUAGES
from recordings.models import (
    OFFICIAL_MODELS,
    ModelDownloadError,
    ModelMissing,
    download_model,
    model_path_for,
)
from recordings.transcribe import EngineSettingError, engine_for

group = AppGroup("models", help="Speech models for transcription.")


@group.command("download")
@click.argument("language", type=click.Choice(sorted(OFFICIAL_MODELS)))
@click.option(
    "--dest",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder to put the model in (default: MODELS_DIR).",
)
@click.option(
    "--url-base",
    envvar="MODELS_URL_BASE",
    default=None,
    help="Where the zip archives are served (a mirror); env MODELS_URL_BASE. "
    "Default: https://alphacephei.com/vosk/models.",
)
def download_command(language: str, dest: str | None, url_base: str | None) -> None:
    """Fetch the official small Vosk model for LANGUAGE, check its SHA-256 and unpack it."""
    folder = dest or current_app.config["MODELS_DIR"]
    spec = OFFICIAL_MODELS[language]
    click.echo(f"{spec.name}: fetching about {spec.size // 1_000_000} MB into {folder} ...")
    try:
        result = download_model(language, folder, url_base=url_base)
    except ModelDownloadError as exc:
        raise click.ClickException(str(exc)) from exc
    if result.skipped:
        click.echo(f"{spec.name}: already present at {result.path}")
    else:
        click.echo(f"{spec.name}: verified and installed at {result.path}")


@group.command("show")
def show_command() -> None:
    """Print the engine and model folder each language will use; exit 1 if one is missing."""
    config = current_app.config
    missing = False
    for language in LANGUAGES:
        try:
            engine = engine_for(config.get("TRANSCRIBE_ENGINE"), language)
        except EngineSettingError as exc:
            raise click.ClickException(str(exc)) from exc
        try:
            path = model_path_for(engine, language, config)
        except ModelMissing as exc:  # report every language, then fail
            missing = True
            click.echo(f"{language}: {engine}: MISSING - {exc}")
            continue
        click.echo(f"{language}: {engine}: {path}")
    if missing:
        sys.exit(1)
