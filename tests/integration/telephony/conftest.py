"""The real daemon against the simulator over TCP, on the test's PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from callcenter.extensions import db
from callcenter.models import (
    AgentState,
    Campaign,
    CampaignAgent,
    CampaignKind,
    Presence,
    Trunk,
    utcnow,
)
from callcenter.telephony.daemon import TelephonyDaemon
from callcenter.telephony.esl import EslConfig
from callcenter.telephony.simulator import PatientScript, Simulator

ALWAYS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "23:59"}]
TIME_SCALE = 0.1


class Loop:
    """An asyncio loop on its own thread, so tests stay synchronous."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def spawn(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Switchboard:
    """The simulator, the daemon and helpers to wait for the database to say something."""

    def __init__(self, app):
        self.app = app
        self.loop = Loop()
        self.sim = Simulator(time_scale=TIME_SCALE, heartbeat_interval=1.0)
        self.port = self.loop.run(self.sim.start())
        self.daemon: TelephonyDaemon | None = None
        self.running = None

    def start_daemon(self, heartbeat_timeout: float = 60.0) -> TelephonyDaemon:
        config = EslConfig(
            port=self.port,
            name="fs1",
            backoff_initial=0.05,
            backoff_max=0.5,
            heartbeat_timeout=heartbeat_timeout,
        )
        self.daemon = TelephonyDaemon(self.app, [config], tick=0.05)
        self.running = self.loop.spawn(self.daemon.run())
        self.loop.run(self.daemon.pool.wait_connected(10))
        return self.daemon

    def stop_daemon(self) -> None:
        if self.daemon is not None:
            self.loop.loop.call_soon_threadsafe(self.daemon.stop)
            self.running.result(20)
            self.daemon = None

    def close(self) -> None:
        self.stop_daemon()
        self.loop.run(self.sim.stop())
        self.loop.close()


def wait_for(check: Callable[[], object], timeout: float = 20, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        value = check()
        if value:
            return value
        db.session.rollback()
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def switchboard(app, redis_conn, tmp_path):
    app.config["RECORDINGS_DIR"] = str(tmp_path / "recordings")
    board = Switchboard(app)
    yield board
    board.close()


def make_trunk(**fields) -> Trunk:
    trunk = Trunk(
        name=fields.pop("name", "sim"),
        dial_string="loopback/{number}",
        caller_id_number="02150000000",
        caller_id_name="Clinic",
        **fields,
    )
    db.session.add(trunk)
    db.session.commit()
    return trunk


def make_campaign(trunk: Trunk, agents=(), **fields) -> Campaign:
    campaign = Campaign(
        name=fields.pop("name", "follow-up"),
        kind=fields.pop("kind", CampaignKind.AGENT),
        calling_windows=fields.pop("calling_windows", ALWAYS),
        retry_delays=fields.pop(
            "retry_delays", {"busy": 600, "no_answer": 3600, "rejected": 86400, "invalid": None}
        ),
        trunk_id=trunk.id,
        wrap_up_seconds=fields.pop("wrap_up_seconds", 0),
        **fields,
    )
    campaign.agents = [CampaignAgent(user_id=a.id) for a in agents]
    db.session.add(campaign)
    db.session.commit()
    return campaign


def ready(*agents) -> None:
    for agent in agents:
        state = db.session.get(AgentState, agent.id) or AgentState(user_id=agent.id)
        state.state, state.since, state.reason = Presence.READY, utcnow(), ""
        db.session.merge(state)
    db.session.commit()


__all__ = ["PatientScript", "make_campaign", "make_trunk", "ready", "wait_for"]
