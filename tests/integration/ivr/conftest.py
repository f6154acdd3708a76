"""IVR calls end to end: the real daemon (hosting the IVR server) against the simulator."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import CampaignKind, CampaignStatus, FollowUpTask, utcnow
from callcenter.models.ivr import IvrAppointment, IvrCall, IvrCampaignSettings, IvrFlow
from tests import factories
from tests.integration.telephony.conftest import (
    PatientScript,
    Switchboard,
    make_campaign,
    make_trunk,
    wait_for,
)

# Synthesized prompts are the same for every test: one folder per test session.
LONG_CALL = 600.0  # simulated seconds: patients stay on the line unless a test says otherwise


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def prompt_store_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("store")


@pytest.fixture
def ivr_board(app, redis_conn, tmp_path, prompt_store_dir):
    app.config["RECORDINGS_DIR"] = str(tmp_path / "recordings")
    app.config["RECORDINGS_STORE_DIR"] = str(prompt_store_dir)
    app.config["IVR_SOCKET_ADDRESS"] = f"127.0.0.1:{free_port()}"
    board = Switchboard(app)
    yield board
    board.close()


def ivr_campaign(name: str, flow: IvrFlow = IvrFlow.REMINDER, **fields):
    settings = {k: fields.pop(k) for k in ("transfer_wait_seconds", "clinic_name") if k in fields}
    campaign = make_campaign(make_trunk(name=name), name=name, kind=CampaignKind.IVR, **fields)
    db.session.add(IvrCampaignSettings(campaign_id=campaign.id, flow=flow, **settings))
    db.session.commit()
    return campaign


def reminder_patient(board, campaign, name: str, number: str, script: PatientScript, **fields):
    """A patient with a scripted phone, an appointment in three days and a task to call."""
    board.sim.script(number, script)
    patient = factories.patient(name, phone=number, consent_call=True, **fields)
    task = factories.task(campaign, patient)
    starts = (utcnow() + timedelta(days=3)).replace(hour=1, minute=30, second=0, microsecond=0)
    db.session.add(IvrAppointment(task_id=task.id, starts_at=starts, place=""))
    db.session.commit()
    return patient, task


def listener(*presses: tuple[float, str], hangup_after: float = LONG_CALL) -> PatientScript:
    return PatientScript("answer", dtmf_on_prompt=list(presses), hangup_after=hangup_after)


def run_campaign(board, campaign) -> None:
    if board.daemon is None:
        board.start_daemon()
    campaign.status = CampaignStatus.RUNNING
    db.session.commit()


def ivr_calls(campaign_id: int, count: int, timeout: float = 60) -> dict[int, IvrCall]:
    """The IVR results by patient id, once ``count`` calls have one."""

    def check():
        rows = db.session.scalars(select(IvrCall).where(IvrCall.campaign_id == campaign_id))
        found = {row.patient_id: row for row in rows}
        return found if len(found) >= count else None

    return wait_for(check, timeout=timeout, what=f"{count} IVR results")


def settled_task(task_id: int, timeout: float = 20) -> FollowUpTask:
    from callcenter.models import TaskState
    from callcenter.services.tasks import FINAL_STATES

    def check():
        task = db.session.get(FollowUpTask, task_id)
        done = task.state in FINAL_STATES or task.state is TaskState.RETRY_SCHEDULED
        return task if done else None

    return wait_for(check, timeout=timeout, what=f"task {task_id} to settle")
