"""Read the FreeSWITCH captures in shared/freeswitch-wire/ into byte-exact segments."""

from __future__ import annotations

import os
import re
from pathlib import Path

CAPTURES = Path(
    os.environ.get("FREESWITCH_WIRE", Path(__file__).resolve().parent / "data" / "freeswitch-wire")
)
_SEGMENT = re.compile(rb"^=== (S->C|C->S) \([^)]*\) ===\n(.*?)=== end ===$", re.M | re.S)
_RAW_CHUNK = re.compile(rb"^----- (<<< RECV|>>> SENT) [^(]*\((\d+) bytes\) -----\n", re.M)


def annotated_files() -> list[Path]:
    return sorted(CAPTURES.glob("[0-9][0-9]_*.txt"))


def raw_files() -> list[Path]:
    return sorted((CAPTURES / "raw").glob("*.txt"))


def segments(path: Path) -> list[tuple[str, bytes]]:
    """(direction, bytes) for each === block, direction 'S->C' (FreeSWITCH) or 'C->S'."""
    data = path.read_bytes()
    return [(m.group(1).decode(), m.group(2)) for m in _SEGMENT.finditer(data)]


def raw_stream(path: Path, direction: str = "<<< RECV") -> list[bytes]:
    """The TCP reads (or writes) of a raw session, each exactly as many bytes as it says."""
    data = path.read_bytes()
    chunks = []
    for match in _RAW_CHUNK.finditer(data):
        if match.group(1).decode() == direction:
            start = match.end()
            chunks.append(data[start : start + int(match.group(2))])
    return chunks
