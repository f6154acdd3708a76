"""LocalStore specifics (key safety, atomic writes) and choosing a store from settings."""

from __future__ import annotations

import os
import threading

import pytest

from recordings import storage
from recordings.storage import InvalidKey, LocalStore, S3Store, store_from_config


@pytest.fixture
def store(tmp_path) -> LocalStore:
    return LocalStore(tmp_path / "store")


@pytest.mark.parametrize(
    "key",
    [
        *["", "../escape", "a/../../escape", "/etc/passwd", "a/./b", "a//b", "./a"],
        *["a\\b", "dir/", "nul\x00byte", ".."],
    ],
)
def test_unsafe_keys_are_refused_with_a_reason(store, key):
    with pytest.raises(InvalidKey, match="store key"):
        store.put(key, b"x")
    with pytest.raises(InvalidKey):
        store.get_range(key, 0, 1)


def test_a_symlink_cannot_lead_outside_the_root(store, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (store.root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidKey, match="outside the store root"):
        store.put("link/stolen", b"x")
    assert not (outside / "stolen").exists()


def test_nested_keys_create_folders_and_leave_no_temp_files(store):
    assert store.put("2024/07/call.enc", b"abc") == 3
    assert (store.root / "2024" / "07" / "call.enc").read_bytes() == b"abc"
    assert os.listdir(store.root / "2024" / "07") == ["call.enc"]


def test_a_failed_write_keeps_the_old_object_and_cleans_up(store):
    store.put("rec", b"old contents")

    class Exploding:
        def read(self, size=-1):
            raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        store.put("rec", Exploding())
    assert store.get_range("rec", 0, 100) == b"old contents"
    assert os.listdir(store.root) == ["rec"]


def test_readers_never_see_a_partial_object(store):
    """Concurrent readers see either the old or the new object whole, never a mix."""
    old, new = b"a" * 2_000_000, b"b" * 3_000_000
    store.put("rec", old)
    seen: set[bytes] = set()
    stop = threading.Event()

    def read_loop():
        while not stop.is_set():
            with store.open("rec") as file:
                data = file.read()
            seen.add(data[:1] + str(len(data)).encode())

    reader = threading.Thread(target=read_loop)
    reader.start()
    for _ in range(10):
        store.put("rec", new)
        store.put("rec", old)
    stop.set()
    reader.join()
    assert seen <= {b"a2000000", b"b3000000"}


def test_store_from_settings_picks_the_kind(tmp_path):
    local = storage.store_from_settings("local", local_dir=tmp_path / "s")
    assert isinstance(local, LocalStore) and local.root == (tmp_path / "s").resolve()
    s3 = storage.store_from_settings(
        "s3", bucket="recs", endpoint_url="http://127.0.0.1:9", region="eu-west-1"
    )
    assert isinstance(s3, S3Store)
    assert (s3.bucket, s3.region) == ("recs", "eu-west-1")
    assert s3.client.meta.endpoint_url == "http://127.0.0.1:9"


def test_store_from_config_reads_the_app_settings(tmp_path):
    config = {"RECORDINGS_STORE": "local", "RECORDINGS_STORE_DIR": str(tmp_path / "x")}
    assert store_from_config(config).root == (tmp_path / "x").resolve()


@pytest.mark.parametrize("kind", ["", "S3", "minio", "disk"])
def test_unknown_kinds_name_the_allowed_values(kind, tmp_path):
    with pytest.raises(ValueError, match=r"RECORDINGS_STORE must be one of 'local', 's3'"):
        storage.store_from_settings(kind, local_dir=tmp_path)


def test_local_without_a_folder_and_s3_without_a_bucket_are_refused():
    with pytest.raises(ValueError, match="RECORDINGS_STORE_DIR"):
        storage.store_from_settings("local", local_dir="")
    with pytest.raises(ValueError, match="S3_BUCKET"):
        storage.store_from_settings("s3", bucket="")
