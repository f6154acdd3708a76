"""How many FreeSWITCH plain events the ESL client parses per second on one core.

The input is the captured CHANNEL_HANGUP_COMPLETE (tests/data/freeswitch-wire/08_..., ~4.9 kB,
~140 URL-encoded headers, ``Hangup-Cause`` twice): the biggest event the dialler reads for each
call. One parse is what the client's reader does per message: ``StreamParser.feed`` then
``Message.event()``. Run with ``python -m bench.bench_esl``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.common import note, report
from callcenter.telephony import wire

CAPTURE = (
    Path(__file__).resolve().parents[1]
    / "tests/data/freeswitch-wire/08_channel_hangup_complete_event.txt"
)
FROM_FREESWITCH = b"=== S->C (FreeSWITCH sends) ===\n"
SECONDS = float(os.environ.get("BENCH_ESL_SECONDS", "2"))
GOAL_EVENTS_PER_SECOND = 10_000


def captured_event() -> bytes:
    """The first FreeSWITCH -> client block of the capture, exactly as it came off the wire."""
    text = CAPTURE.read_bytes()
    start = text.index(FROM_FREESWITCH) + len(FROM_FREESWITCH)
    return text[start : text.index(b"=== end ===", start)]


def parse_rate(data: bytes, seconds: float) -> tuple[float, int]:
    """Events parsed per second over at least ``seconds`` (best of three slices)."""
    parser = wire.StreamParser()
    best, total = 0.0, 0
    for _ in range(3):
        count, started = 0, time.perf_counter()
        deadline = started + seconds / 3
        while True:
            for _ in range(200):
                for message in parser.feed(data):
                    message.event()
            count += 200
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - started))
        total += count
    return best, total


def main() -> None:
    data = captured_event()
    (message,) = wire.StreamParser().feed(data)
    event = message.event()
    assert event.name == "CHANNEL_HANGUP_COMPLETE", event.name
    print(f"== esl bench: {len(data):,}-byte {event.name}, {len(event.headers.items)} headers")
    rate, count = parse_rate(data, SECONDS)
    report(
        "esl.parse.plain_event",
        rate,
        "ev/s",
        at_least=GOAL_EVENTS_PER_SECOND,
        detail=f"{1e6 / rate:.0f} us/event",
    )
    note(f"{count:,} events parsed in about {SECONDS:.0f} s, best of 3 slices")


if __name__ == "__main__":
    main()
