"""Chunked AES-256-GCM at rest: round trips, range reads, tamper detection, key rotation."""

from __future__ import annotations

import hashlib
import os
import random

import pytest

from recordings import crypto
from recordings.crypto import EncryptedReader, RangeError, TamperedRecording
from recordings.keys import Keyring, UnknownKeyId, new_key_entry
from recordings.storage import LocalStore

from .samples import STEREO_8K

CHUNK = 1024  # small chunks so a few KiB of data cross many chunk boundaries
STRIDE = CHUNK + crypto.TAG_BYTES


class CountingStore(LocalStore):
    """A real LocalStore that remembers which byte ranges were fetched."""

    def __init__(self, root):
        super().__init__(root)
        self.ranges: list[tuple[int, int]] = []

    def get_range(self, key, start, length):
        self.ranges.append((start, length))
        return super().get_range(key, start, length)


@pytest.fixture
def store(tmp_path) -> CountingStore:
    return CountingStore(tmp_path / "store")


def _put(store, keyring, data: bytes, key: str = "rec.enc", chunk_size: int = CHUNK):
    return crypto.encrypt_bytes(data, store, key, keyring, chunk_size=chunk_size)


def _header_len(store, key="rec.enc") -> int:
    return len(crypto._parse_header(store.get_range(key, 0, crypto.MAX_HEADER), key).raw)


def test_real_recording_round_trips_and_is_not_stored_in_clear(store, keyring):
    info = crypto.encrypt_file(STEREO_8K, store, "calls/1.enc", keyring)
    plain = STEREO_8K.read_bytes()
    assert info.sha256 == hashlib.sha256(plain).hexdigest()
    assert info.plain_size == len(plain) and info.key_id == "k1"
    chunks = -(-len(plain) // crypto.DEFAULT_CHUNK_SIZE)
    assert info.stored_size == store.size("calls/1.enc")
    assert info.stored_size == _header_len(store, "calls/1.enc") + len(plain) + 16 * chunks
    stored = store.path("calls/1.enc").read_bytes()
    assert b"RIFF" not in stored and plain[5000:5032] not in stored
    reader = EncryptedReader(store, "calls/1.enc", keyring)
    assert reader.plain_size == len(plain)
    assert b"".join(reader.iter_plain()) == plain
    assert crypto.verify(store, "calls/1.enc", keyring, info.sha256) == info.sha256


@pytest.mark.parametrize("size", [1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 17])
def test_sizes_around_chunk_boundaries_round_trip(store, keyring, size):
    data = os.urandom(size)
    info = _put(store, keyring, data)
    reader = EncryptedReader(store, "rec.enc", keyring)
    assert b"".join(reader.iter_plain()) == data
    assert reader.read_range(0, size - 1) == data
    assert info.stored_size == _header_len(store) + size + 16 * -(-size // CHUNK)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, 0),  # first byte
        (5119, 5119),  # last byte
        (CHUNK - 1, CHUNK),  # the two bytes either side of a boundary
        (CHUNK, 2 * CHUNK - 1),  # exactly one whole chunk
        (CHUNK - 1, 2 * CHUNK),  # one chunk plus a byte each side
        (10, 5000),  # spans every chunk
        (3 * CHUNK + 5, 3 * CHUNK + 9),  # inside one chunk
    ],
)
def test_range_reads(store, keyring, start, end):
    data = os.urandom(5 * CHUNK)
    _put(store, keyring, data)
    reader = EncryptedReader(store, "rec.enc", keyring)
    assert reader.read_range(start, end) == data[start : end + 1]


def test_random_ranges_match_python_slices(store, keyring):
    data = os.urandom(20 * CHUNK + 333)
    _put(store, keyring, data)
    reader = EncryptedReader(store, "rec.enc", keyring, read_ahead=3 * STRIDE)
    rng = random.Random(4)
    for _ in range(300):
        start = rng.randrange(len(data))
        end = rng.randrange(start, len(data))
        assert reader.read_range(start, end) == data[start : end + 1]


def test_a_range_read_fetches_only_the_chunks_it_needs(store, keyring):
    data = os.urandom(100 * CHUNK)
    _put(store, keyring, data)
    reader = EncryptedReader(store, "rec.enc", keyring)
    header_len = _header_len(store)
    store.ranges.clear()
    start = 50 * CHUNK + 10
    assert reader.read_range(start, start + 10) == data[start : start + 11]
    assert store.ranges == [(header_len + 50 * STRIDE, STRIDE)]
    store.ranges.clear()
    reader.read_range(CHUNK - 1, CHUNK)  # two chunks, one request
    assert store.ranges == [(header_len, 2 * STRIDE)]


def test_long_reads_are_batched_by_read_ahead(store, keyring):
    data = os.urandom(10 * CHUNK)
    _put(store, keyring, data)
    reader = EncryptedReader(store, "rec.enc", keyring, read_ahead=4 * STRIDE)
    store.ranges.clear()
    assert b"".join(reader.iter_plain()) == data
    assert [length for _, length in store.ranges] == [4 * STRIDE, 4 * STRIDE, 2 * STRIDE]


def test_empty_recording_is_authenticated_and_has_no_ranges(store, keyring):
    info = _put(store, keyring, b"")
    assert info.plain_size == 0 and info.sha256 == hashlib.sha256(b"").hexdigest()
    reader = EncryptedReader(store, "rec.enc", keyring)
    assert reader.plain_size == 0
    assert list(reader.iter_plain()) == []
    with pytest.raises(RangeError):
        reader.read_range(0, 0)
    crypto.verify(store, "rec.enc", keyring, info.sha256)
    _flip(store, "rec.enc", info.stored_size - 1)
    with pytest.raises(TamperedRecording):
        crypto.verify(store, "rec.enc", keyring, info.sha256)


@pytest.mark.parametrize(("start", "end"), [(-1, 3), (5, 4), (0, 4096), (4096, 4096)])
def test_ranges_outside_the_recording_are_refused(store, keyring, start, end):
    _put(store, keyring, os.urandom(4096))
    with pytest.raises(RangeError, match="outside recording"):
        EncryptedReader(store, "rec.enc", keyring).read_range(start, end)


def _flip(store, key, position):
    path = store.path(key)
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


def test_every_flipped_byte_is_detected(store, keyring):
    data = os.urandom(3 * 64 + 10)  # 64-byte chunks keep every position affordable
    info = _put(store, keyring, data, chunk_size=64)
    header_len = _header_len(store)
    original = store.path("rec.enc").read_bytes()
    for position in range(info.stored_size):
        store.put("rec.enc", original)
        _flip(store, "rec.enc", position)
        in_key_id = 34 <= position < header_len  # a changed id may name a key we do not hold
        expected = (TamperedRecording, UnknownKeyId) if in_key_id else TamperedRecording
        with pytest.raises(expected):
            crypto.verify(store, "rec.enc", keyring, info.sha256)


def test_a_flipped_byte_fails_the_range_that_covers_it_only(store, keyring):
    data = os.urandom(4 * CHUNK)
    _put(store, keyring, data)
    _flip(store, "rec.enc", _header_len(store) + 2 * STRIDE + 7)  # inside chunk 2
    reader = EncryptedReader(store, "rec.enc", keyring)
    assert reader.read_range(0, 2 * CHUNK - 1) == data[: 2 * CHUNK]
    with pytest.raises(TamperedRecording, match="chunk 2"):
        reader.read_range(2 * CHUNK, 2 * CHUNK)


def test_truncation_and_extension_are_detected(store, keyring):
    info = _put(store, keyring, os.urandom(3 * CHUNK))
    original = store.path("rec.enc").read_bytes()
    for damaged in (original[:-STRIDE], original[:-1], original + b"\0", original[:20]):
        store.put("rec.enc", damaged)
        with pytest.raises(TamperedRecording):
            crypto.verify(store, "rec.enc", keyring, info.sha256)


def test_dropping_the_last_chunk_and_fixing_the_size_is_still_detected(store, keyring):
    _put(store, keyring, os.urandom(3 * CHUNK))
    original = store.path("rec.enc").read_bytes()
    header = bytearray(original[: _header_len(store)])
    header[10:18] = (2 * CHUNK).to_bytes(8, "big")  # claim two chunks: chunk 1 is not "last"
    store.put("rec.enc", bytes(header) + original[len(header) : len(header) + 2 * STRIDE])
    reader = EncryptedReader(store, "rec.enc", keyring)
    with pytest.raises(TamperedRecording, match="chunk 0"):
        reader.read_range(0, 0)  # the header is bound into every chunk


def test_swapped_chunks_are_detected(store, keyring):
    info = _put(store, keyring, os.urandom(3 * CHUNK))
    original = store.path("rec.enc").read_bytes()
    h = _header_len(store)
    chunk0, chunk1 = original[h : h + STRIDE], original[h + STRIDE : h + 2 * STRIDE]
    store.put("rec.enc", original[:h] + chunk1 + chunk0 + original[h + 2 * STRIDE :])
    with pytest.raises(TamperedRecording, match="chunk 0"):
        crypto.verify(store, "rec.enc", keyring, info.sha256)


def test_a_chunk_from_another_recording_is_detected(store, keyring):
    data = os.urandom(2 * CHUNK)
    info = _put(store, keyring, data, key="a.enc")
    _put(store, keyring, data, key="b.enc")  # same plaintext, same key, same position
    a, b = store.path("a.enc").read_bytes(), store.path("b.enc").read_bytes()
    h = _header_len(store, "a.enc")
    assert a[h:] != b[h:]  # per-file keys: equal plaintexts encrypt differently
    store.put("a.enc", a[: h + STRIDE] + b[h + STRIDE :])
    with pytest.raises(TamperedRecording, match="chunk 1"):
        crypto.verify(store, "a.enc", keyring, info.sha256)


def test_verify_refuses_a_different_hash(store, keyring):
    _put(store, keyring, b"some audio")
    with pytest.raises(TamperedRecording, match="not the recorded"):
        crypto.verify(store, "rec.enc", keyring, hashlib.sha256(b"other audio").hexdigest())


def test_a_plain_file_is_not_mistaken_for_an_encrypted_one(store, keyring):
    store.put("plain.wav", STEREO_8K)
    with pytest.raises(TamperedRecording, match="not an encrypted recording"):
        EncryptedReader(store, "plain.wav", keyring)


def test_old_keys_keep_decrypting_after_rotation(store):
    first = new_key_entry("2024")
    before = Keyring.from_setting(first)
    old = crypto.encrypt_file(STEREO_8K, store, "old.enc", before)
    after = Keyring.from_setting(f"{first},{new_key_entry('2025')}")
    new = crypto.encrypt_file(STEREO_8K, store, "new.enc", after)
    assert (old.key_id, new.key_id) == ("2024", "2025")
    crypto.verify(store, "old.enc", after, old.sha256)
    crypto.verify(store, "new.enc", after, new.sha256)
    assert EncryptedReader(store, "old.enc", after).key_id == "2024"
    retired = Keyring.from_setting(new_key_entry("2025"))
    with pytest.raises(UnknownKeyId, match="'2024'"):
        EncryptedReader(store, "old.enc", retired)


def test_a_different_key_under_the_same_id_fails_authentication(store, keyring):
    info = _put(store, keyring, b"x" * 3000)
    impostor = Keyring.from_setting(new_key_entry("k1"))
    with pytest.raises(TamperedRecording, match="key is wrong"):
        crypto.verify(store, "rec.enc", impostor, info.sha256)


def test_decrypt_to_path_writes_the_plaintext_or_nothing(store, keyring, tmp_path):
    info = crypto.encrypt_file(STEREO_8K, store, "rec.enc", keyring)
    out = tmp_path / "out.wav"
    assert crypto.decrypt_to_path(store, "rec.enc", keyring, out).sha256 == info.sha256
    assert out.read_bytes() == STEREO_8K.read_bytes()
    _flip(store, "rec.enc", info.stored_size - 5)
    with pytest.raises(TamperedRecording):
        crypto.decrypt_to_path(store, "rec.enc", keyring, tmp_path / "bad.wav")
    assert not (tmp_path / "bad.wav").exists()


def test_chunk_size_is_checked(store, keyring):
    with pytest.raises(ValueError, match="chunk_size"):
        _put(store, keyring, b"abc", chunk_size=0)
