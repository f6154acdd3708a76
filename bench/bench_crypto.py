"""How fast recordings are encrypted at rest, verified, and range-read for the player.

The input is one hour of 8 kHz 16-bit stereo (what FreeSWITCH writes with RECORD_STEREO):
115 MB of random bytes, so nothing compresses or caches differently from real audio. Range
reads are 64 KiB windows at random offsets, what a browser asks for while seeking.
Run with ``python -m bench.bench_crypto``.
"""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
import time
from pathlib import Path

from bench.common import median, note, percentile, report
from recordings import crypto
from recordings.keys import Keyring, new_key_entry
from recordings.storage import LocalStore

SECONDS_OF_AUDIO = int(os.environ.get("BENCH_CRYPTO_SECONDS", "3600"))
BYTES_PER_SECOND = 8000 * 2 * 2  # 8 kHz, 16-bit, two channels
WINDOW = 64 * 1024


def main() -> None:
    keyring = Keyring.from_setting(new_key_entry("bench"))
    size = SECONDS_OF_AUDIO * BYTES_PER_SECOND
    print(f"== crypto bench: {size / 1e6:,.0f} MB ({SECONDS_OF_AUDIO / 60:.0f} min stereo 8 kHz)")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "call.wav"
        source.write_bytes(os.urandom(size))
        store = LocalStore(Path(tmp) / "store")

        started = time.perf_counter()
        info = crypto.encrypt_file(source, store, "call.enc", keyring)
        encrypt_s = time.perf_counter() - started
        report("crypto.encrypt", size / 1e6 / encrypt_s, "MB/s", detail=f"{encrypt_s:.2f} s")

        started = time.perf_counter()
        crypto.verify(store, "call.enc", keyring, info.sha256)
        verify_s = time.perf_counter() - started
        report("crypto.verify", size / 1e6 / verify_s, "MB/s", detail=f"{verify_s:.2f} s")

        started = time.perf_counter()
        hashlib.sha256(source.read_bytes()).hexdigest()
        note(f"sha256 alone of the plain file: {time.perf_counter() - started:.2f} s")

        rng = random.Random(7)
        latencies = []
        for _ in range(500):
            start = rng.randrange(size - WINDOW)
            begun = time.perf_counter()
            reader = crypto.EncryptedReader(store, "call.enc", keyring)  # as one HTTP request
            reader.read_range(start, start + WINDOW - 1)
            latencies.append((time.perf_counter() - begun) * 1000)
        report(
            "crypto.range_read_64k.p95",
            percentile(latencies, 0.95),
            "ms",
            detail=f"p50 {median(latencies):.2f} ms, new reader per request",
        )
        overhead = info.stored_size / info.plain_size - 1
        note(f"stored size overhead {overhead * 100:.3f} % (16-byte tag per 64 KiB chunk)")


if __name__ == "__main__":
    main()
