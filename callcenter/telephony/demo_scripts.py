"""Simulator scripts for the demo patients: every outcome a real campaign meets."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import Patient, PatientPhone

DEMO_SPEECH = Path(__file__).parent / "sim" / "data" / "demo_patient.wav"
# One in ten of each failure, the rest answer and talk for a while.
OUTCOME_CYCLE = (
    "answer",
    "busy",
    "answer",
    "no_answer",
    "answer",
    "reject",
    "answer",
    "invalid",
    "answer",
    "answer",
)


def demo_scripts(session: Session) -> dict:
    numbers = {}
    rows = session.execute(
        select(PatientPhone.number)
        .join(Patient)
        .where(PatientPhone.position == 0)
        .order_by(Patient.id)
    ).scalars()
    for index, number in enumerate(rows):
        outcome = OUTCOME_CYCLE[index % len(OUTCOME_CYCLE)]
        script = {"outcome": outcome, "ring_seconds": 2.0}
        if outcome == "answer":
            script |= {"speech_wav": str(DEMO_SPEECH), "hangup_after": 45.0, "dtmf": [[8.0, "1"]]}
        numbers[number] = script
    default = {
        "outcome": "answer",
        "ring_seconds": 2.0,
        "speech_wav": str(DEMO_SPEECH),
        "hangup_after": 45.0,
    }
    return {"default": default, "numbers": numbers}


def write_demo_scripts(session: Session, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(demo_scripts(session), indent=1, ensure_ascii=False))
    return target
