"""What a reader turns a file into: patient records ready to write, or row-level errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from callcenter.models import Sex

MAX_REPORTED_ERRORS = 1000


@dataclass(frozen=True)
class RowError:
    """One problem in the file: where (row, column) and what is wrong."""

    row: int
    column: str
    reason: str
    value: str | None = None

    def to_dict(self) -> dict:
        out = {"row": self.row, "column": self.column, "reason": self.reason}
        if self.value is not None:
            out["value"] = self.value[:200]
        return out


@dataclass
class ObservationRecord:
    code: str
    name: str
    value: float
    unit: str
    taken_at: datetime
    ref_low: float | None = None
    ref_high: float | None = None


@dataclass
class PatientRecord:
    """A patient as a file describes it. ``None`` means the file did not say: keep what is."""

    row: int
    card_number: str
    name: str
    phones: list[str]
    sex: Sex | None = None
    birth_date: date | None = None
    timezone: str | None = None
    language: str | None = None
    id_number: str | None = None
    consent_call: bool | None = None
    consent_record: bool | None = None
    do_not_call: bool | None = None
    tags: list[str] = field(default_factory=list)
    observations: list[ObservationRecord] = field(default_factory=list)


class ErrorList:
    """Collects row errors, keeping the first MAX_REPORTED_ERRORS and counting the rest."""

    def __init__(self) -> None:
        self.items: list[RowError] = []
        self.total = 0

    def add(self, row: int, column: str, reason: str, value: str | None = None) -> None:
        self.total += 1
        if len(self.items) < MAX_REPORTED_ERRORS:
            self.items.append(RowError(row, column, reason, value))

    def __bool__(self) -> bool:
        return self.total > 0

    def as_dicts(self) -> list[dict]:
        return [e.to_dict() for e in self.items]
