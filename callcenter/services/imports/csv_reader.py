"""Read a patient CSV as Excel writes it (UTF-8 with or without BOM, or GB18030).

Rows are numbered as a spreadsheet shows them: the header is row 1, the first patient row 2.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable

from callcenter.errors import InvalidPhoneNumber
from callcenter.services import phones
from callcenter.services.imports.fields import (
    FieldError,
    parse_bool,
    parse_date,
    parse_language,
    parse_sex,
    parse_tags,
    parse_timezone,
)
from callcenter.services.imports.records import ErrorList, PatientRecord

# Canonical column -> names a clinic's spreadsheet may use for it (compared case-insensitively).
COLUMNS: dict[str, tuple[str, ...]] = {
    "card_number": ("card_number", "card", "card no", "会员卡号", "卡号"),
    "name": ("name", "姓名"),
    "sex": ("sex", "gender", "性别"),
    "birth_date": ("birth_date", "birthdate", "date of birth", "dob", "出生日期"),
    "phone": ("phone", "mobile", "telephone", "电话", "手机", "手机号"),
    "phone2": ("phone2", "alt_phone", "备用电话", "电话2"),
    "timezone": ("timezone", "time zone", "时区"),
    "language": ("language", "lang", "语言"),
    "id_number": ("id_number", "id number", "身份证号", "证件号"),
    "consent_call": ("consent_call", "同意电话随访", "同意随访"),
    "consent_record": ("consent_record", "同意录音"),
    "do_not_call": ("do_not_call", "dnc", "拒绝来电", "勿扰"),
    "tags": ("tags", "标签"),
}
REQUIRED = ("card_number", "name", "phone")
_ALIASES = {alias.lower(): column for column, names in COLUMNS.items() for alias in names}


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: how Excel names the column."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def decode(data: bytes, errors: ErrorList) -> str | None:
    """Return the file's text, or add an error saying which encoding problem was found where."""
    if not data.strip(b" \t\r\n\xef\xbb\xbf"):
        errors.add(0, "", "the file is empty")
        return None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        errors.add(0, "", "the file is UTF-16; save it as 'CSV UTF-8' or GB18030 CSV")
        return None
    if b"\x00" in data:
        errors.add(
            data[: data.index(b"\x00")].count(b"\n") + 1,
            "",
            "the file contains NUL bytes: it is not a CSV text file",
        )
        return None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.add(
                data[: exc.start].count(b"\n") + 1,
                "",
                "the file starts with a UTF-8 mark but has bytes that are not UTF-8",
            )
            return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            row = data[: utf8_error.start].count(b"\n") + 1
            errors.add(row, "", "the file is neither UTF-8 nor GB18030 text")
            return None


def _delimiter(header_line: str) -> str:
    return max((",", ";", "\t"), key=header_line.count)


def _map_header(header: list[str], errors: ErrorList) -> dict[str, int] | None:
    positions: dict[str, int] = {}
    for index, raw in enumerate(header):
        label = raw.strip()
        if not label:
            continue
        column = _ALIASES.get(label.lower())
        where = f"{column_letter(index)} ({label})"
        if column is None:
            errors.add(1, where, "unknown column; known columns: " + ", ".join(COLUMNS))
        elif column in positions:
            errors.add(1, where, f"column {column} appears twice")
        else:
            positions[column] = index
    for column in REQUIRED:
        if column not in positions:
            errors.add(1, column, "required column is missing")
    return None if errors else positions


def read_csv(
    data: bytes, *, region: str, on_progress: Callable[[int], None] | None = None
) -> tuple[list[PatientRecord], ErrorList]:
    """Parse and validate the whole file; records are only usable if the error list is empty."""
    errors = ErrorList()
    text = decode(data, errors)
    if text is None:
        return [], errors
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    header = next(reader, None)
    positions = _map_header(header or [], errors)
    if positions is None:
        return [], errors

    records: list[PatientRecord] = []
    seen_cards: dict[str, int] = {}
    for row_number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue  # Excel leaves blank lines at the end
        if any(cell.strip() for cell in cells[len(header) :]):
            errors.add(
                row_number,
                column_letter(len(header)),
                f"row has {len(cells)} cells but the header has {len(header)}",
            )
            continue
        card = (
            cells[positions["card_number"]].strip() if positions["card_number"] < len(cells) else ""
        )
        first = seen_cards.get(card) if card else None
        if first is not None:
            errors.add(
                row_number,
                _where(positions, "card_number"),
                f"card number already appears in row {first}",
                card,
            )
            continue
        seen_cards.setdefault(card, row_number)
        record = _read_row(row_number, cells, positions, region, errors)
        if record is not None:
            records.append(record)
        if on_progress and row_number % 10000 == 0:
            on_progress(row_number)
    if not records and not errors:
        errors.add(2, "", "the file has a header but no patient rows")
    return records, errors


def _where(positions: dict[str, int], column: str) -> str:
    return f"{column_letter(positions[column])} ({column})"


def _read_row(
    row: int, cells: list[str], positions: dict[str, int], region: str, errors: ErrorList
) -> PatientRecord | None:
    before = errors.total

    def cell(column: str) -> str:
        index = positions.get(column)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    def parse(column: str, parser):
        text = cell(column)
        if not text:
            return None
        try:
            return parser(text)
        except (FieldError, InvalidPhoneNumber) as exc:
            reason = exc.message if isinstance(exc, InvalidPhoneNumber) else str(exc)
            errors.add(row, _where(positions, column), reason, text)
            return None

    card, name = cell("card_number"), cell("name")
    for column, value, limit in (("card_number", card, 64), ("name", name, 200)):
        if not value:
            errors.add(row, _where(positions, column), "required value is empty")
        elif len(value) > limit:
            errors.add(row, _where(positions, column), f"longer than {limit} characters", value)
    to_e164 = lambda text: phones.to_e164(text, region)  # noqa: E731
    numbers = [n for n in (parse("phone", to_e164), parse("phone2", to_e164)) if n]
    if not cell("phone"):
        errors.add(row, _where(positions, "phone"), "required value is empty")
    record = PatientRecord(
        row=row,
        card_number=card,
        name=name,
        phones=list(dict.fromkeys(numbers)),
        sex=parse("sex", parse_sex),
        birth_date=parse("birth_date", parse_date),
        timezone=parse("timezone", parse_timezone),
        language=parse("language", parse_language),
        id_number=cell("id_number") or None,
        consent_call=parse("consent_call", parse_bool),
        consent_record=parse("consent_record", parse_bool),
        do_not_call=parse("do_not_call", parse_bool),
        tags=parse("tags", parse_tags) or [],
    )
    return record if errors.total == before else None
