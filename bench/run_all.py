"""Run every benchmark and print all figures: ``python -m bench.run_all``.

Each benchmark runs in a fresh interpreter, as it would alone: one that runs after another must
not inherit its memory (millions of objects make every garbage collection pause the event loop
being measured) or its threads. Exits 0 even when a goal is missed (each miss is marked MISSED
and listed at the end): the figures are for reading, not a gate. A crash still exits non-zero.
"""

from __future__ import annotations

import subprocess
import sys
import time

BENCHES = (
    "bench_import",
    "bench_search",
    "bench_transcript_search",
    "bench_esl",
    "bench_dialer",
    "bench_desk",
    "bench_ivr",
    "bench_crypto",
    "bench_transcribe_engines",
    "bench_recording_job",
)


def run(name: str) -> list[str]:
    """Run one benchmark, echoing its output; the result lines it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", f"bench.{name}"], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    results = []
    for line in process.stdout:
        print(line, end="", flush=True)
        if "(goal " in line and line.rstrip().split("  [")[0].endswith(("OK", "MISSED")):
            results.append(line.rstrip())
    if process.wait() != 0:
        raise SystemExit(f"bench.{name} failed with exit code {process.returncode}")
    return results


def main() -> int:
    started = time.perf_counter()
    judged = [line for name in BENCHES for line in run(name)]
    missed = [line for line in judged if line.split("  [")[0].endswith("MISSED")]
    print(f"== {len(judged)} goals: {len(judged) - len(missed)} OK, {len(missed)} MISSED")
    for line in missed:
        print(f"MISSED {line.split('  (goal')[0].strip()}")
    print(f"== all benchmarks took {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
