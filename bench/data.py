"""Deterministic synthetic data for benchmarks and the large tests: CSV rows like a clinic's."""

from __future__ import annotations

import random

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英"
EN_FIRST = ["Mary", "John", "Linda", "James", "Susan", "Robert", "Karen", "David", "Emma", "Noah"]
EN_LAST = ["Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Moore", "Clark", "Lee"]
CN_PREFIXES = ["138", "139", "137", "150", "151", "158", "186", "187", "189", "135"]


def patient_rows(count: int, seed: int = 1):
    rng = random.Random(seed)
    for i in range(count):
        if i % 2:
            surname = rng.choice(SURNAMES)  # drawn first: the data must stay what it was
            name = surname + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
            lang = "zh"
        else:
            name = f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}"
            lang = "en"
        phone = f"{rng.choice(CN_PREFIXES)}{i:08d}"
        sex = rng.choice("男女")
        birth = f"{rng.randint(1935, 1990)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        tags = rng.choice(["高血压", "糖尿病", ""])
        yield [f"B{i:07d}", name, sex, birth, phone, lang, "是", "是", tags]


HEADER = [
    "card_number",
    "name",
    "sex",
    "birth_date",
    "phone",
    "language",
    "consent_call",
    "consent_record",
    "tags",
]


def patient_csv(count: int, seed: int = 1, bad_last_row: bool = False) -> bytes:
    lines = [",".join(HEADER)]
    lines += [",".join(row) for row in patient_rows(count, seed)]
    if bad_last_row:
        cells = lines[-1].split(",")
        cells[4] = "12345"
        lines[-1] = ",".join(cells)
    return ("\n".join(lines) + "\n").encode("utf-8")


def _to_csv(rows) -> bytes:
    lines = [",".join(HEADER)] + [",".join(row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _change(row: list[str], i: int, nth: int) -> list[str]:
    """One edit a clinic's re-export would carry: a renamed, re-numbered or corrected patient."""
    row = list(row)
    kind = nth % 3  # rotate so each update path (columns, phones) gets its share
    if kind == 0:
        row[1] += " Jr" if row[1].isascii() else "华"
    elif kind == 1:
        row[4] = f"199{i:08d}"  # a new mobile (199 is a valid CN prefix that patient_rows avoids)
    else:
        row[3] = "1950-06-15" if row[3] != "1950-06-15" else "1951-06-15"
    return row


def changed_patient_csv(count: int, seed: int = 1, every: int = 10) -> bytes:
    """``patient_csv(count, seed)`` with every ``every``-th row edited (name, phone or birth)."""
    rows = patient_rows(count, seed)
    return _to_csv(
        _change(row, i, i // every) if i % every == 0 else row for i, row in enumerate(rows)
    )
