"""The recording keyring: parse RECORDING_KEYS / RECORDING_KEY_ID into usable keys.

Format of the setting: ``id:base64key`` entries separated by commas, e.g.
``2024a:3q2+7w...=,2025a:Zm9v...=``. Each key is 32 random bytes (AES-256). Ids are 1-64
characters of ``A-Z a-z 0-9 . _ -`` and are written into every encrypted file, so an old key
must stay listed for as long as files encrypted with it exist. Error messages name the entry
and id but never echo key material.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

KEY_BYTES = 32
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")


class KeySettingError(ValueError):
    """RECORDING_KEYS or RECORDING_KEY_ID is malformed; the message says where."""


class UnknownKeyId(LookupError):
    """A recording names a key id the keyring does not hold."""

    def __init__(self, key_id: str, known: list[str]):
        self.key_id = key_id
        listed = ", ".join(known) or "none"
        super().__init__(
            f"recording was encrypted with key id {key_id!r}, which is not in RECORDING_KEYS "
            f"(known ids: {listed}); add the old key back to decrypt it"
        )


def _decode_key(text: str, where: str) -> bytes:
    cleaned = text.strip().replace("-", "+").replace("_", "/")  # accept URL-safe base64 too
    try:
        raw = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise KeySettingError(f"{where}: the key is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise KeySettingError(
            f"{where}: the key decodes to {len(raw)} bytes; AES-256 needs exactly {KEY_BYTES}"
        )
    return raw


@dataclass(frozen=True)
class Keyring:
    """Keys by id plus the id that encrypts new recordings."""

    keys: Mapping[str, bytes] = field(repr=False)
    active_id: str

    def __post_init__(self):
        if not self.keys:
            raise KeySettingError("RECORDING_KEYS holds no key")
        if self.active_id not in self.keys:
            raise KeySettingError(
                f"RECORDING_KEY_ID {self.active_id!r} is not one of the ids in RECORDING_KEYS "
                f"({', '.join(self.keys)})"
            )

    @classmethod
    def from_setting(cls, keys: str, active: str = "") -> Keyring:
        """Parse ``id:base64key,id2:base64key``; an empty ``active`` means the last one listed."""
        if keys is None or not keys.strip():
            raise KeySettingError("RECORDING_KEYS is empty; expected id:base64key[,id2:base64key]")
        parsed: dict[str, bytes] = {}
        for number, entry in enumerate(keys.split(","), start=1):
            entry = entry.strip()
            where = f"RECORDING_KEYS entry {number}"
            if not entry:
                raise KeySettingError(f"{where} is empty (stray comma?)")
            key_id, sep, encoded = entry.partition(":")
            key_id = key_id.strip()
            if not sep:
                raise KeySettingError(f"{where} has no ':'; expected id:base64key")
            if not KEY_ID_PATTERN.fullmatch(key_id):
                raise KeySettingError(
                    f"{where}: key id {key_id!r} must be 1-64 characters of A-Z a-z 0-9 . _ -"
                )
            if key_id in parsed:
                raise KeySettingError(f"{where}: key id {key_id!r} is listed twice")
            parsed[key_id] = _decode_key(encoded, f"{where} (id {key_id!r})")
        active = (active or "").strip() or list(parsed)[-1]
        return cls(parsed, active)

    @property
    def active_key(self) -> bytes:
        return self.keys[self.active_id]

    def key(self, key_id: str) -> bytes:
        """Return the key with ``key_id`` or raise UnknownKeyId naming it."""
        try:
            return self.keys[key_id]
        except KeyError:
            raise UnknownKeyId(key_id, list(self.keys)) from None


def new_key_entry(key_id: str) -> str:
    """Return a fresh ``id:base64key`` entry to append to RECORDING_KEYS when rotating."""
    if not KEY_ID_PATTERN.fullmatch(key_id):
        raise KeySettingError(f"key id {key_id!r} must be 1-64 characters of A-Z a-z 0-9 . _ -")
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"
