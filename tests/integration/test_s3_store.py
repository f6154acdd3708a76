"""One behaviour suite for every store, run against a folder and a real HTTP S3 endpoint.

The S3 endpoint is moto's ThreadedMotoServer on a free local port: boto3 talks real HTTP to
it, the way it talks to MinIO or AWS (no MinIO binary is installed on the build machines).
"""

from __future__ import annotations

import io
import os
import uuid

import boto3
import pytest
from moto.server import ThreadedMotoServer

from recordings import crypto
from recordings.crypto import EncryptedReader, TamperedRecording
from recordings.keys import Keyring, new_key_entry
from recordings.storage import LocalStore, ObjectNotFound, S3Store, store_from_settings

from ..unit.recordings.samples import STEREO_8K


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_credentials(monkeypatch):
    # boto3 reads these as it would in production; moto accepts any pair.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def s3_store(s3_endpoint, aws_credentials) -> S3Store:
    return store_from_settings(
        "s3", bucket=f"rec-{uuid.uuid4().hex[:12]}", endpoint_url=s3_endpoint, region="us-east-1"
    )


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    return request.getfixturevalue("s3_store")


def test_put_bytes_then_read_whole_and_ranges(store):
    data = os.urandom(10_000)
    assert store.put("calls/1.enc", data) == 10_000
    assert store.exists("calls/1.enc")
    assert store.size("calls/1.enc") == 10_000
    with store.open("calls/1.enc") as stream:
        assert stream.read() == data
    assert store.get_range("calls/1.enc", 0, 1) == data[:1]
    assert store.get_range("calls/1.enc", 9_999, 1) == data[-1:]
    assert store.get_range("calls/1.enc", 4_000, 2_500) == data[4_000:6_500]


def test_ranges_past_the_end_are_short_not_errors(store):
    store.put("k", b"0123456789")
    assert store.get_range("k", 8, 100) == b"89"
    assert store.get_range("k", 10, 5) == b""
    assert store.get_range("k", 50, 5) == b""
    assert store.get_range("k", 3, 0) == b""
    with pytest.raises(ValueError, match="non-negative"):
        store.get_range("k", -1, 5)


def test_put_from_a_path_and_from_a_file_object(store):
    store.put("from-path.wav", STEREO_8K)
    store.put("from-str.wav", str(STEREO_8K))
    store.put("from-stream.wav", io.BytesIO(STEREO_8K.read_bytes()))
    for key in ("from-path.wav", "from-str.wav", "from-stream.wav"):
        with store.open(key) as stream:
            assert stream.read() == STEREO_8K.read_bytes()


def test_put_replaces_an_object(store):
    store.put("k", b"first version, longer")
    store.put("k", b"second")
    assert store.size("k") == 6
    assert store.get_range("k", 0, 100) == b"second"


def test_missing_objects(store):
    assert not store.exists("nope")
    for call in (
        lambda: store.size("nope"),
        lambda: store.open("nope"),
        lambda: store.get_range("nope", 0, 1),
    ):
        with pytest.raises(ObjectNotFound, match="'nope'"):
            call()


def test_delete_is_idempotent(store):
    store.put("gone", b"x")
    store.delete("gone")
    store.delete("gone")
    assert not store.exists("gone")


def test_unsafe_keys_are_refused_by_every_store(store):
    for key in ("../x", "/abs", "a/../b"):
        with pytest.raises(ValueError, match="store key"):
            store.put(key, b"x")


def test_empty_object(store):
    assert store.put("empty", b"") == 0
    assert store.size("empty") == 0
    assert store.get_range("empty", 0, 10) == b""


def test_encrypted_recording_range_reads_and_tampering(store):
    keyring = Keyring.from_setting(new_key_entry("k1"))
    info = crypto.encrypt_file(STEREO_8K, store, "calls/7.enc", keyring, chunk_size=4096)
    plain = STEREO_8K.read_bytes()
    reader = EncryptedReader(store, "calls/7.enc", keyring)
    assert reader.read_range(4095, 12_288) == plain[4095:12_289]
    assert reader.read_range(len(plain) - 1, len(plain) - 1) == plain[-1:]
    crypto.verify(store, "calls/7.enc", keyring, info.sha256)
    stored = bytearray(store.get_range("calls/7.enc", 0, info.stored_size))
    stored[len(stored) // 2] ^= 0x80
    store.put("calls/7.enc", bytes(stored))
    with pytest.raises(TamperedRecording):
        crypto.verify(store, "calls/7.enc", keyring, info.sha256)


def test_s3_creates_a_missing_bucket_in_its_region(s3_endpoint, aws_credentials):
    bucket = f"eu-{uuid.uuid4().hex[:12]}"
    store = S3Store(bucket, s3_endpoint, "eu-west-1")
    store.put("a", b"x")
    location = store.client.get_bucket_location(Bucket=bucket)["LocationConstraint"]
    assert location == "eu-west-1"
    S3Store(bucket, s3_endpoint, "eu-west-1").put("b", b"y")  # an existing bucket is fine


def test_s3_range_reads_send_a_range_header(s3_store):
    s3_store.put("big", os.urandom(1_000_000))
    sent: list[bytes] = []  # botocore holds signed headers as bytes
    s3_store.client.meta.events.register(
        "before-send.s3.GetObject", lambda request, **_: sent.append(request.headers["Range"])
    )
    assert len(s3_store.get_range("big", 500_000, 100)) == 100
    assert sent == [b"bytes=500000-500099"]


def test_s3_store_accepts_a_ready_client(s3_endpoint, aws_credentials):
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    bucket = f"c-{uuid.uuid4().hex[:12]}"
    store = S3Store(bucket, client=client)
    store.put("k", b"hello")
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"hello"
