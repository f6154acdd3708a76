"""Simulator scripts for the demo patients: every outcome a real campaign meets."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import Campaign, CampaignKind, FollowUpTask, Patient, PatientPhone
from callcenter.models.ivr import IvrCampaignSettings, IvrFlow

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
# Patients of the reminder campaign who listen to the IVR and press keys on its menus:
# (seconds after a menu starts, keys) per menu; "" stays silent, "hangup" hangs up there.
IVR_LISTENERS = (
    [(8.0, "1")],  # confirms, having heard the appointment
    [(8.0, "2")],  # asks to change the appointment: a callback task for an agent
    [(8.0, "0")],  # wants a person: transferred to a ready agent, else a callback
    [],  # silent: the menu is repeated twice, then a polite goodbye and a retry later
    [(8.0, "9")],  # do not call me again: flagged do-not-call at once
    [(1.0, "hangup")],  # hangs up at the first menu: "hung up early at menu"
)
# Listeners stay on the line until the IVR hangs up; the one transferred talks 90 s.
IVR_LISTENER_SECONDS = (300.0, 300.0, 90.0, 300.0, 300.0, 300.0)


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
    listeners = zip(IVR_LISTENERS, IVR_LISTENER_SECONDS, strict=True)
    for number, (presses, seconds) in zip(reminder_only_numbers(session), listeners, strict=False):
        numbers[number] = {
            "outcome": "answer",
            "ring_seconds": 2.0,
            "speech_wav": str(DEMO_SPEECH),
            "hangup_after": seconds,
            "dtmf_on_prompt": [list(press) for press in presses],
        }
    default = {
        "outcome": "answer",
        "ring_seconds": 2.0,
        "speech_wav": str(DEMO_SPEECH),
        "hangup_after": 45.0,
    }
    return {"default": default, "numbers": numbers}


def reminder_only_numbers(session: Session) -> list[str]:
    """Numbers of patients called by an IVR reminder campaign and by no agent campaign, so
    their keypad scripts never meet an agent's call."""
    reminders = select(IvrCampaignSettings.campaign_id).where(
        IvrCampaignSettings.flow == IvrFlow.REMINDER
    )
    agent_patients = (
        select(FollowUpTask.patient_id)
        .join(Campaign, Campaign.id == FollowUpTask.campaign_id)
        .where(Campaign.kind == CampaignKind.AGENT)
    )
    query = (
        select(PatientPhone.number)
        .join(Patient, Patient.id == PatientPhone.patient_id)
        .join(FollowUpTask, FollowUpTask.patient_id == Patient.id)
        .where(
            PatientPhone.position == 0,
            FollowUpTask.campaign_id.in_(reminders),
            Patient.id.not_in(agent_patients),
        )
        .order_by(Patient.id)
    )
    return list(dict.fromkeys(session.scalars(query)))


def write_demo_scripts(session: Session, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(demo_scripts(session), indent=1, ensure_ascii=False))
    return target
