"""``flask telephony run`` killed with SIGKILL mid-campaign, then started again.

Unlike a graceful stop, a killed daemon leaves nothing tidy behind: commands may be half sent,
batches half applied, calls up on the switch. State lives in the database, so the next daemon
must carry on without dialling anyone twice and without losing a call.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callcenter.extensions import db
from callcenter.models import CallAttempt, CallStatus, CampaignStatus, FollowUpTask, TaskState
from tests import factories
from tests.conftest import TEST_REDIS_URL
from tests.integration.telephony.conftest import (
    PatientScript,
    make_campaign,
    make_trunk,
    ready,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[3]
TASKS = 8


def start_daemon(app, port: int, log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": TEST_REDIS_URL,
        "RECORDINGS_DIR": app.config["RECORDINGS_DIR"],
        "ESL_NODES": f"fs1=esl://:ClueCon@127.0.0.1:{port}",
        "FLASK_APP": "callcenter",
    }
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "telephony", "run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.slow
def test_daemon_killed_with_sigkill_never_dials_twice_and_loses_no_call(
    switchboard, users, tmp_path
):
    campaign = make_campaign(make_trunk(), agents=[users.agent, users.other_agent])
    numbers = [f"+86138000002{i:02d}" for i in range(TASKS)]
    for i, number in enumerate(numbers):
        switchboard.sim.script(number, PatientScript("answer", hangup_after=8.0))
        factories.task(campaign, factories.patient(f"强停{i}", phone=number, consent_call=True))
    ready(users.agent, users.other_agent)
    log_path = tmp_path / "daemon.log"
    first = start_daemon(switchboard.app, switchboard.port, log_path)
    second = None
    try:
        campaign.status = CampaignStatus.RUNNING
        db.session.commit()
        wait_for(
            lambda: db.session.scalar(
                select(func.count(CallAttempt.id)).where(CallAttempt.status == CallStatus.BRIDGED)
            ),
            timeout=60,
            what="a bridged call before the kill",
        )
        first.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL

        second = start_daemon(switchboard.app, switchboard.port, log_path)

        def all_done():
            states = db.session.scalars(select(FollowUpTask.state)).all()
            return len(states) == TASKS and all(s is TaskState.COMPLETED for s in states)

        wait_for(all_done, timeout=120, what=f"every task completed; log: {log_path}")
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(20)

    per_task = db.session.execute(
        select(CallAttempt.task_id, func.count()).group_by(CallAttempt.task_id)
    ).all()
    assert len(per_task) == TASKS and all(n == 1 for _, n in per_task)
    # The switch itself saw one originate per patient, across both daemons.
    assert {n: switchboard.sim.dialled[n] for n in numbers} == dict.fromkeys(numbers, 1)
    open_calls = select(func.count(CallAttempt.id)).where(CallAttempt.status != CallStatus.ENDED)
    assert db.session.scalar(open_calls) == 0
