"""The recordings store and the encryption keys the configuration names, made once per process.

Kept apart from the recording job so that the web app, which only streams stored audio, does
not import the audio and speech libraries the job needs.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from recordings import storage
from recordings.keys import Keyring

STORE_SETTINGS = (
    "RECORDINGS_STORE",
    "RECORDINGS_STORE_DIR",
    "S3_BUCKET",
    "S3_ENDPOINT_URL",
    "S3_REGION",
)


def recording_store(config: Mapping[str, object]) -> storage.Store:
    return _store(tuple((name, config[name]) for name in STORE_SETTINGS if name in config))


def keyring(config: Mapping[str, object]) -> Keyring:
    return _keyring(str(config["RECORDING_KEYS"]), str(config.get("RECORDING_KEY_ID", "")))


@functools.lru_cache(maxsize=4)
def _store(settings: tuple[tuple[str, object], ...]) -> storage.Store:
    return storage.store_from_config(dict(settings))


@functools.lru_cache(maxsize=4)
def _keyring(keys: str, active: str) -> Keyring:
    return Keyring.from_setting(keys, active)
