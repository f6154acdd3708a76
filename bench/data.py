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
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
            lang = "zh"
        else:
            name = f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}"
            lang = "en"
        phone = f"{rng.choice(CN_PREFIXES)}{i:08d}"
        sex = rng.choice("男女")
        birth = f"{rng.randint(1935, 1990)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        yield [f"B{i:07d}", name, sex, birth, phone, lang, "是", "是", rng.choice(["高血压", "糖尿病", ""])]


HEADER = ["card_number", "name", "sex", "birth_date", "phone", "language", "consent_call",
          "consent_record", "tags"]


def patient_csv(count: int, seed: int = 1, bad_last_row: bool = False) -> bytes:
    lines = [",".join(HEADER)]
    lines += [",".join(row) for row in patient_rows(count, seed)]
    if bad_last_row:
        cells = lines[-1].split(",")
        cells[4] = "12345"
        lines[-1] = ",".join(cells)
    return ("\n".join(lines) + "\n").encode("utf-8")
