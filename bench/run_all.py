"""Run every benchmark and print all figures: ``python -m bench.run_all``.

Exits 0 even when a goal is missed (each miss is marked MISSED and listed at the end): the
figures are for reading, not a gate. A crash still exits non-zero.
"""

from __future__ import annotations

import time

from bench import (
    bench_crypto,
    bench_desk,
    bench_dialer,
    bench_esl,
    bench_import,
    bench_ivr,
    bench_recording_job,
    bench_search,
    bench_transcribe_engines,
    bench_transcript_search,
)
from bench.common import RESULTS

BENCHES = (
    bench_import.main,
    bench_search.main,
    bench_transcript_search.main,
    bench_esl.main,
    bench_dialer.main,
    bench_desk.main,
    bench_ivr.main,
    bench_crypto.main,
    bench_transcribe_engines.main,
    bench_recording_job.main,
)


def summary(elapsed: float) -> None:
    judged = [r for r in RESULTS if r.ok is not None]
    missed = [r for r in judged if not r.ok]
    met = len(judged) - len(missed)
    print(f"== {len(judged)} goals: {met} OK, {len(missed)} MISSED", flush=True)
    for result in missed:
        print(f"MISSED {result.name} {result.value:.2f} {result.unit} (goal {result.goal})")
    print(f"== all benchmarks took {elapsed:.0f} s", flush=True)


def main() -> int:
    started = time.perf_counter()
    for bench in BENCHES:
        bench()
    summary(time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
