"""Import 100,000 CSV patients through the service path the CLI uses, three times.

1. all rows new, 2. the same file again (all unchanged), 3. ~10% of the rows edited.
Each pass prints rows/second and how the time splits between reading/validating the file
(``read_csv``) and writing it (``write_records``); the rest is submit, job bookkeeping, the
audit entry and the commit. Run with ``python -m bench.bench_import``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from bench.common import bench_app, note, report
from bench.data import changed_patient_csv, patient_csv
from callcenter.extensions import db
from callcenter.models import ImportFormat, ImportStatus
from callcenter.services import imports

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
GOAL_ROWS_PER_SECOND = 5000
# The same settings the CLI builds from the default config.
SETTINGS = imports.ImportSettings(region="CN", timezone="Asia/Shanghai", language="zh")


@dataclass(frozen=True)
class ImportTiming:
    rows: int
    total: float
    read: float
    write: float
    summary: dict

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.total

    @property
    def rest(self) -> float:
        return self.total - self.read - self.write


@contextmanager
def _timed(module, name: str, spent: dict[str, float]) -> Iterator[None]:
    """Add the seconds spent in ``module.name`` to ``spent[name]``, for the block's duration.

    ``imports.run`` calls ``read_csv`` and ``write_records`` through its own module globals, so
    wrapping them there measures the real path without copying it into the bench.
    """
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - started

    setattr(module, name, wrapper)
    try:
        yield
    finally:
        setattr(module, name, original)


def import_file(data: bytes, filename: str = "bench.csv") -> ImportTiming:
    """Submit and run one CSV import exactly as ``flask patients import`` does; time it."""
    spent: dict[str, float] = {}
    with ExitStack() as stack:
        stack.enter_context(_timed(imports, "read_csv", spent))
        stack.enter_context(_timed(imports, "write_records", spent))
        started = time.perf_counter()
        job = imports.submit(db.session, None, filename, data, ImportFormat.CSV)
        db.session.commit()
        job = imports.run(db.session, job.id, SETTINGS)
        total = time.perf_counter() - started
    if job.status is not ImportStatus.SUCCEEDED:
        raise RuntimeError(f"bench import {job.status}: {job.errors[:3]}")
    summary = dict(job.summary)
    db.session.expunge_all()  # drop the job (and its multi-megabyte content) from the session
    return ImportTiming(
        summary["rows"], total, spent.get("read_csv", 0.0), spent.get("write_records", 0.0), summary
    )


def _print(label: str, timing: ImportTiming, expected: dict, goal: float | None = None) -> None:
    report(
        f"import.{label}.rows_per_second",
        timing.rows_per_second,
        "rows/s",
        at_least=goal,
        detail=f"{timing.rows:,} rows in {timing.total:.1f} s",
    )
    for part, seconds in (("read_csv", timing.read), ("write", timing.write)):
        report(
            f"import.{label}.{part}_seconds",
            seconds,
            "s",
            detail=f"{seconds / timing.total:.0%} of the import",
        )
    note(f"rest (submit, job bookkeeping, audit, commit): {timing.rest:.2f} s")
    counts = {k: timing.summary.get(k) for k in expected}
    verdict = "as expected" if counts == expected else f"UNEXPECTED, wanted {expected}"
    note(f"summary {counts}: {verdict}")


def main() -> None:
    print(f"== import bench: {ROWS:,} CSV rows on PostgreSQL", flush=True)
    original, changed = patient_csv(ROWS), changed_patient_csv(ROWS)
    pairs = zip(original.split(b"\n"), changed.split(b"\n"), strict=True)
    changed_rows = sum(a != b for a, b in pairs)
    with bench_app():
        first = import_file(original)
        _print("new", first, {"created": ROWS, "updated": 0}, GOAL_ROWS_PER_SECOND)
        second = import_file(original)
        _print("unchanged", second, {"created": 0, "updated": 0, "unchanged": ROWS})
        third = import_file(changed)
        _print(
            "10pct_changed",
            third,
            {"created": 0, "updated": changed_rows, "unchanged": ROWS - changed_rows},
        )


if __name__ == "__main__":
    main()
