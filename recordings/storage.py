"""Object stores for recordings: a local folder or any S3-compatible service.

Modelled on CTFd's uploaders: one small interface (put, open, delete) plus byte-range reads,
because the encrypted recordings are read chunk by chunk for HTTP Range requests.

Keys are relative POSIX paths such as ``recordings/2024/07/42.enc``. The same rules apply to
both stores so a key that works locally also works on S3 and cannot escape the local root.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

STORE_KINDS = ("local", "s3")

Source = BinaryIO | str | os.PathLike | bytes


class StoreError(Exception):
    """A store operation failed; the message names the key."""


class InvalidKey(StoreError, ValueError):
    """The key is empty, absolute, contains ``..`` or characters a store cannot hold."""


class ObjectNotFound(StoreError, LookupError):
    """No object is stored under the key."""


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative path; raise InvalidKey saying why otherwise."""
    if not isinstance(key, str) or not key:
        raise InvalidKey(f"store key must be a non-empty string, got {key!r}")
    if "\\" in key or "\x00" in key:
        raise InvalidKey(f"store key {key!r} contains a backslash or NUL; use '/' separators")
    if key.startswith("/"):
        raise InvalidKey(f"store key {key!r} is absolute; keys are relative to the store")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise InvalidKey(f"store key {key!r} has an empty, '.' or '..' path segment")
    return key


def _check_range(key: str, start: int, length: int) -> None:
    if start < 0 or length < 0:
        raise ValueError(f"byte range of {key!r} must be non-negative, got {start=} {length=}")


class Store(ABC):
    """Where recordings live: whole-object writes, whole or ranged reads."""

    @abstractmethod
    def put(self, key: str, source: Source) -> int:
        """Store ``source`` (a binary file, a path or bytes) under ``key``; return its size."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """Return a readable binary stream of the object; the caller closes it."""

    @abstractmethod
    def get_range(self, key: str, start: int, length: int) -> bytes:
        """Return up to ``length`` bytes from offset ``start``; fewer at the end of the object."""

    @abstractmethod
    def size(self, key: str) -> int:
        """Return the object's size in bytes."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Return whether an object is stored under ``key``."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; removing a missing key is not an error (deletes are retried)."""


class LocalStore(Store):
    """Objects as files under one root folder, written atomically."""

    def __init__(self, root_dir: str | os.PathLike):
        self.root = Path(root_dir).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """Return the file path of ``key``, refusing anything outside the root (symlinks too)."""
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise InvalidKey(f"store key {key!r} resolves outside the store root {self.root}")
        return path

    def put(self, key: str, source: Source) -> int:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename: readers never see half a recording.
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".part", dir=target.parent
        )
        try:
            with os.fdopen(fd, "wb") as out:
                _copy_source(source, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return target.stat().st_size

    def open(self, key: str) -> BinaryIO:
        try:
            return self.path(key).open("rb")
        except FileNotFoundError:
            raise ObjectNotFound(f"no object {key!r} in {self!r}") from None

    def get_range(self, key: str, start: int, length: int) -> bytes:
        _check_range(key, start, length)
        with self.open(key) as file:
            file.seek(start)
            return file.read(length)

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            raise ObjectNotFound(f"no object {key!r} in {self!r}") from None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


def _copy_source(source: Source, out: BinaryIO) -> None:
    if isinstance(source, bytes | bytearray | memoryview):
        out.write(source)
    elif isinstance(source, str | os.PathLike):
        with open(source, "rb") as src:
            shutil.copyfileobj(src, out, 1024 * 1024)
    else:
        shutil.copyfileobj(source, out, 1024 * 1024)


class S3Store(Store):
    """Objects in one bucket of an S3-compatible service (AWS, MinIO, Ceph...)."""

    def __init__(self, bucket: str, endpoint_url: str = "", region: str = "us-east-1", client=None):
        if not bucket:
            raise ValueError("S3Store needs a bucket name (setting S3_BUCKET)")
        self.bucket = bucket
        self.region = region or "us-east-1"
        if client is None:
            import boto3  # imported here so a local-only deployment never loads boto3

            client = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=self.region)
        self.client = client
        self._bucket_ready = False

    def __repr__(self) -> str:
        return f"S3Store(bucket={self.bucket!r}, endpoint={self.client.meta.endpoint_url!r})"

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist yet (first write on a fresh MinIO)."""
        if self._bucket_ready:
            return
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except self.client.exceptions.ClientError as exc:
            if _error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise StoreError(f"cannot reach bucket {self.bucket!r}: {exc}") from exc
            kwargs = {"Bucket": self.bucket}
            if self.region != "us-east-1":  # AWS rejects an explicit us-east-1 constraint
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            log.info("creating bucket %s", self.bucket)
            # Another worker may create it between our head and create.
            with contextlib.suppress(self.client.exceptions.BucketAlreadyOwnedByYou):
                self.client.create_bucket(**kwargs)
        self._bucket_ready = True

    def put(self, key: str, source: Source) -> int:
        check_key(key)
        self.ensure_bucket()
        if isinstance(source, bytes | bytearray | memoryview):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=bytes(source))
        elif isinstance(source, str | os.PathLike):
            self.client.upload_file(os.fspath(source), self.bucket, key)
        else:
            self.client.upload_fileobj(source, self.bucket, key)
        return self.size(key)

    def open(self, key: str) -> BinaryIO:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=check_key(key))
        except self.client.exceptions.ClientError as exc:
            raise self._translate(key, exc) from exc
        return response["Body"]

    def get_range(self, key: str, start: int, length: int) -> bytes:
        _check_range(key, start, length)
        if length == 0:
            return b""
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=check_key(key), Range=f"bytes={start}-{start + length - 1}"
            )
        except self.client.exceptions.ClientError as exc:
            if _error_code(exc) == "InvalidRange":  # start lies past the end: same as a file
                return b""
            raise self._translate(key, exc) from exc
        with response["Body"] as body:
            return body.read()

    def size(self, key: str) -> int:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=check_key(key))
        except self.client.exceptions.ClientError as exc:
            raise self._translate(key, exc) from exc
        return int(head["ContentLength"])

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except ObjectNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=check_key(key))
        except self.client.exceptions.ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchBucket", "NoSuchKey"):
                return
            raise self._translate(key, exc) from exc

    def _translate(self, key: str, exc: Exception) -> StoreError:
        if _error_code(exc) in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
            return ObjectNotFound(f"no object {key!r} in {self!r}")
        return StoreError(f"S3 request for {key!r} in {self!r} failed: {exc}")


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def store_from_settings(
    kind: str,
    *,
    local_dir: str | os.PathLike = "",
    bucket: str = "",
    endpoint_url: str = "",
    region: str = "us-east-1",
) -> Store:
    """Return the store configured by RECORDINGS_STORE and its companion settings."""
    if kind == "local":
        if not local_dir:
            raise ValueError("RECORDINGS_STORE=local needs RECORDINGS_STORE_DIR (a folder)")
        return LocalStore(local_dir)
    if kind == "s3":
        return S3Store(bucket, endpoint_url, region)
    allowed = ", ".join(repr(k) for k in STORE_KINDS)
    raise ValueError(f"RECORDINGS_STORE must be one of {allowed}, not {kind!r}")


def store_from_config(config) -> Store:
    """Return the store described by a mapping holding the app's RECORDINGS_*/S3_* keys."""
    return store_from_settings(
        config.get("RECORDINGS_STORE", "local"),
        local_dir=config.get("RECORDINGS_STORE_DIR", ""),
        bucket=config.get("S3_BUCKET", ""),
        endpoint_url=config.get("S3_ENDPOINT_URL", ""),
        region=config.get("S3_REGION", "us-east-1"),
    )
