"""Encrypt recordings at rest with AES-256-GCM in chunks, so any byte range decrypts alone.

File format, version 1 (all integers big-endian)::

    offset  size  field
    0       5     magic b"CCREC"
    5       1     format version = 1
    6       4     chunk_size: plaintext bytes per chunk (every chunk but the last is full)
    10      8     plain_size: plaintext bytes in the whole file
    18      16    file_id: random per file
    34      1     n = length of the key id
    35      n     key id (ASCII), the RECORDING_KEYS entry that encrypted the file
    35+n    ...   chunks: chunk i is AES-GCM(plaintext i) followed by its 16-byte tag

There are max(1, ceil(plain_size / chunk_size)) chunks; an empty recording still has one
(empty, authenticated) chunk, so every file proves its own end.

Keys and nonces: each file is encrypted with its own key, HKDF-SHA256(master key,
salt=file_id, info=b"callcenter-recording-v1"), so nonces never repeat across files however
many files one master key encrypts. Chunk i uses nonce = i (8 bytes) || 00 00 00 || last flag
(STREAM construction, Hoang et al. 2015) and associated data = the whole header || i || last.
So a flipped byte anywhere (header or chunk), chunks reordered or dropped, or a file cut short
at a chunk boundary all fail authentication; the header's plain_size is also checked against
the stored size before any chunk is read.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from recordings.keys import KEY_ID_PATTERN, Keyring, UnknownKeyId
from recordings.storage import Store

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "EncryptedInfo",
    "EncryptedReader",
    "RangeError",
    "RecordingCryptoError",
    "TamperedRecording",
    "UnknownKeyId",
    "decrypt_to_path",
    "encrypt_bytes",
    "encrypt_file",
    "verify",
]

MAGIC = b"CCREC"
VERSION = 1
DEFAULT_CHUNK_SIZE = 64 * 1024
MIN_CHUNK_SIZE, MAX_CHUNK_SIZE = 16, 16 * 1024 * 1024
TAG_BYTES = 16
_FIXED = struct.Struct(">5sBIQ16sB")  # magic, version, chunk_size, plain_size, file_id, id len
MAX_HEADER = _FIXED.size + 64
_HKDF_INFO = b"callcenter-recording-v1"


class RecordingCryptoError(Exception):
    """Encrypting or decrypting a recording failed."""


class TamperedRecording(RecordingCryptoError):
    """The stored file is not what was written: altered, truncated, extended or reordered."""


class RangeError(ValueError):
    """A requested plaintext byte range lies outside the recording (HTTP 416)."""


@dataclass(frozen=True)
class EncryptedInfo:
    key_id: str
    plain_size: int
    stored_size: int
    sha256: str  # of the plaintext: the hash recorded in the audit ledger


@dataclass(frozen=True)
class _Header:
    raw: bytes
    chunk_size: int
    plain_size: int
    file_id: bytes
    key_id: str

    @property
    def chunk_count(self) -> int:
        return max(1, -(-self.plain_size // self.chunk_size))

    @property
    def stored_size(self) -> int:
        return len(self.raw) + self.plain_size + TAG_BYTES * self.chunk_count


def _build_header(chunk_size: int, plain_size: int, key_id: str) -> _Header:
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be {MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE}, not {chunk_size}")
    file_id = os.urandom(16)
    encoded_id = key_id.encode("ascii")
    raw = _FIXED.pack(MAGIC, VERSION, chunk_size, plain_size, file_id, len(encoded_id))
    return _Header(raw + encoded_id, chunk_size, plain_size, file_id, key_id)


def _parse_header(data: bytes, where: str) -> _Header:
    if len(data) < _FIXED.size:
        raise TamperedRecording(f"{where}: {len(data)} bytes is too short for a recording header")
    magic, version, chunk_size, plain_size, file_id, id_len = _FIXED.unpack_from(data)
    if magic != MAGIC:
        raise TamperedRecording(f"{where}: not an encrypted recording (magic {magic!r})")
    if version != VERSION:
        raise TamperedRecording(f"{where}: unknown format version {version} (this code reads 1)")
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise TamperedRecording(f"{where}: chunk size {chunk_size} in the header is impossible")
    key_id_bytes = data[_FIXED.size : _FIXED.size + id_len]
    key_id = key_id_bytes.decode("ascii", errors="replace")
    if len(key_id_bytes) != id_len or not KEY_ID_PATTERN.fullmatch(key_id):
        raise TamperedRecording(f"{where}: the key id in the header is damaged ({key_id!r})")
    raw = data[: _FIXED.size + id_len]
    return _Header(raw, chunk_size, plain_size, file_id, key_id)


def _chunk_cipher(master_key: bytes, header: _Header) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=header.file_id, info=_HKDF_INFO)
    return AESGCM(hkdf.derive(master_key))


def _nonce_and_aad(header: _Header, index: int) -> tuple[bytes, bytes]:
    last = 1 if index == header.chunk_count - 1 else 0
    return struct.pack(">Q3xB", index, last), header.raw + struct.pack(">QB", index, last)


def _encrypt_stream(
    src: BinaryIO, plain_size: int, out: BinaryIO, keyring: Keyring, chunk_size: int
) -> str:
    header = _build_header(chunk_size, plain_size, keyring.active_id)
    aes = _chunk_cipher(keyring.active_key, header)
    digest = hashlib.sha256()
    out.write(header.raw)
    for index in range(header.chunk_count):
        expected = min(chunk_size, plain_size - index * chunk_size)
        plain = src.read(expected)
        if len(plain) != expected:
            raise RecordingCryptoError(
                f"source ended at byte {index * chunk_size + len(plain)} of {plain_size}: "
                "it changed while being encrypted"
            )
        digest.update(plain)
        nonce, aad = _nonce_and_aad(header, index)
        out.write(aes.encrypt(nonce, plain, aad))
    if src.read(1):
        raise RecordingCryptoError(f"source grew past {plain_size} bytes while being encrypted")
    return digest.hexdigest()


def encrypt_file(
    src_path: str | os.PathLike,
    store: Store,
    key: str,
    keyring: Keyring,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> EncryptedInfo:
    """Encrypt the file at ``src_path`` with the active key and put it in ``store`` at ``key``."""
    with open(src_path, "rb") as src, tempfile.TemporaryFile() as encrypted:
        plain_size = os.fstat(src.fileno()).st_size
        sha256 = _encrypt_stream(src, plain_size, encrypted, keyring, chunk_size)
        encrypted.seek(0)
        stored_size = store.put(key, encrypted)
    return EncryptedInfo(keyring.active_id, plain_size, stored_size, sha256)


def encrypt_bytes(
    data: bytes, store: Store, key: str, keyring: Keyring, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> EncryptedInfo:
    """Encrypt ``data`` with the active key and put it in ``store`` at ``key``."""
    import io

    out = io.BytesIO()
    sha256 = _encrypt_stream(io.BytesIO(data), len(data), out, keyring, chunk_size)
    stored_size = store.put(key, out.getvalue())
    return EncryptedInfo(keyring.active_id, len(data), stored_size, sha256)


class EncryptedReader:
    """Decrypt any plaintext byte range of a stored recording, fetching only its chunks."""

    def __init__(self, store: Store, key: str, keyring: Keyring, *, read_ahead: int = 1 << 20):
        self.store, self.key = store, key
        where = f"recording {key!r}"
        self._header = _parse_header(store.get_range(key, 0, MAX_HEADER), where)
        stored = store.size(key)
        if stored != self._header.stored_size:
            raise TamperedRecording(
                f"{where} is {stored} bytes but its header promises {self._header.stored_size}: "
                "truncated or extended"
            )
        self._aes = _chunk_cipher(keyring.key(self._header.key_id), self._header)
        self._chunks_per_read = max(1, read_ahead // (self._header.chunk_size + TAG_BYTES))

    @property
    def plain_size(self) -> int:
        return self._header.plain_size

    @property
    def key_id(self) -> str:
        return self._header.key_id

    @property
    def chunk_size(self) -> int:
        return self._header.chunk_size

    def read_range(self, start: int, end_inclusive: int) -> bytes:
        """Return plaintext bytes ``start`` to ``end_inclusive`` (as in an HTTP Range header)."""
        return b"".join(self.iter_range(start, end_inclusive))

    def iter_range(self, start: int, end_inclusive: int) -> Iterator[bytes]:
        """Yield plaintext bytes ``start`` to ``end_inclusive`` piece by piece, for streaming."""
        if not 0 <= start <= end_inclusive < self.plain_size:
            raise RangeError(
                f"byte range {start}-{end_inclusive} is outside recording {self.key!r} "
                f"of {self.plain_size} bytes"
            )
        size = self._header.chunk_size
        for index, plain in self._chunks(start // size, end_inclusive // size):
            base = index * size
            yield plain[max(start - base, 0) : end_inclusive - base + 1]

    def iter_plain(self) -> Iterator[bytes]:
        """Yield the whole plaintext chunk by chunk (an empty recording is still authenticated)."""
        for _, plain in self._chunks(0, self._header.chunk_count - 1):
            if plain:
                yield plain

    def _chunks(self, first: int, last: int) -> Iterator[tuple[int, bytes]]:
        header, stride = self._header, self._header.chunk_size + TAG_BYTES
        for batch_start in range(first, last + 1, self._chunks_per_read):
            batch_end = min(last, batch_start + self._chunks_per_read - 1)
            offset = len(header.raw) + batch_start * stride
            wanted = min(header.stored_size, len(header.raw) + (batch_end + 1) * stride) - offset
            data = self.store.get_range(self.key, offset, wanted)
            if len(data) != wanted:
                raise TamperedRecording(
                    f"recording {self.key!r} ended early: chunk {batch_start} onwards truncated"
                )
            for index in range(batch_start, batch_end + 1):
                sealed = data[(index - batch_start) * stride : (index - batch_start + 1) * stride]
                nonce, aad = _nonce_and_aad(header, index)
                try:
                    yield index, self._aes.decrypt(nonce, sealed, aad)
                except InvalidTag:
                    raise TamperedRecording(
                        f"chunk {index} of recording {self.key!r} failed authentication: the "
                        "file was altered, reordered or truncated (or the key is wrong)"
                    ) from None


def verify(store: Store, key: str, keyring: Keyring, expected_sha256: str) -> str:
    """Decrypt the whole recording and raise TamperedRecording unless its SHA-256 matches."""
    digest = hashlib.sha256()
    for piece in EncryptedReader(store, key, keyring).iter_plain():
        digest.update(piece)
    actual = digest.hexdigest()
    if not hmac.compare_digest(actual, expected_sha256.lower()):
        raise TamperedRecording(
            f"recording {key!r} decrypts to sha256 {actual}, not the recorded {expected_sha256}"
        )
    return actual


def decrypt_to_path(
    store: Store, key: str, keyring: Keyring, dest_path: str | os.PathLike
) -> EncryptedInfo:
    """Decrypt the whole recording into ``dest_path`` (e.g. a temp WAV for transcription)."""
    reader = EncryptedReader(store, key, keyring)
    digest = hashlib.sha256()
    try:
        with open(dest_path, "wb") as out:
            for piece in reader.iter_plain():
                digest.update(piece)
                out.write(piece)
    except BaseException:
        os.unlink(dest_path)  # never leave half a recording behind as if it were whole
        raise
    return EncryptedInfo(reader.key_id, reader.plain_size, store.size(key), digest.hexdigest())
