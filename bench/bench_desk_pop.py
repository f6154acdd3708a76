"""Screen pop end to end with 20 agents connected: simulator bridge -> the agent's browser DOM.

The web app runs under gunicorn (gthread) as in production; the simulator runs in a process of its
own in real time, as FreeSWITCH would (see bench_dialer), the telephony daemon in this process on
an asyncio thread; every agent has the desk open in its own Chromium context. Each pop is timed
from the simulator's CHANNEL_BRIDGE timestamp (its clock is the host's at ``time_scale=1``) to
the moment desk.js put the pop into the page. Patients answer after 0.5 s and talk for 3 s; the
simulated agent phones answer after 0.1 s (real phones ring for seconds, in which desk.js has
usually fetched the pop already).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import redis
from sqlalchemy import func, select

from bench.bench_dialer import simulator
from bench.common import BENCH_REDIS_URL, bench_app, median, note, percentile, report
from callcenter.extensions import db
from callcenter.models import (
    AgentState,
    Campaign,
    CampaignAgent,
    CampaignKind,
    FollowUpTask,
    Patient,
    PatientPhone,
    Presence,
    Role,
    TaskState,
    Trunk,
    User,
    utcnow,
)
from callcenter.services import accounts, campaign_control
from callcenter.telephony.daemon import TelephonyDaemon
from callcenter.telephony.esl import EslConfig

AGENTS = int(os.environ.get("BENCH_POP_AGENTS", "20"))
CALLS_PER_AGENT = int(os.environ.get("BENCH_POP_CALLS_PER_AGENT", "5"))
PATIENT = {"outcome": "answer", "ring_seconds": 0.5, "hangup_after": 3.0}
GOAL_P95_MS = 300.0
PASSWORD = "bench-password"
ALWAYS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "23:59"}]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 # Each agent's desk is the visible tab on their own screen; here 20 share one
                 # browser, so keep Chromium from throttling the tabs it thinks are hidden.
                 "--disable-renderer-backgrounding", "--disable-background-timer-throttling",
                 "--disable-backgrounding-occluded-windows"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed() -> tuple[list[User], User, Campaign]:
    password_hash = accounts.hash_password(PASSWORD)
    agents = [
        User(username=f"pop-agent-{i}", display_name=f"坐席{i}", role=Role.AGENT,
             password_hash=password_hash, sip_extension=str(3000 + i))
        for i in range(AGENTS)
    ]  # fmt: skip
    supervisor = User(username="pop-sup", display_name="主管", role=Role.SUPERVISOR,
                      password_hash=password_hash)  # fmt: skip
    trunk = Trunk(name="sim", dial_string="loopback/{number}", max_concurrent=200,
                  calls_per_second=50)  # fmt: skip
    db.session.add_all([*agents, supervisor, trunk])
    db.session.flush()
    campaign = Campaign(name="pop bench", kind=CampaignKind.AGENT, calling_windows=ALWAYS,
                        wrap_up_seconds=0, trunk_id=trunk.id, max_concurrent=AGENTS * 2,
                        calls_per_second=20, max_attempts=1)  # fmt: skip
    campaign.agents = [CampaignAgent(user_id=a.id) for a in agents]
    db.session.add(campaign)
    db.session.flush()
    for n in range(AGENTS * CALLS_PER_AGENT):
        number = f"+86139{n:08d}"
        patient = Patient(card_number=f"P{n:06d}", name=f"患者{n}", timezone="Asia/Shanghai",
                          language="zh", consent_call=True, consent_record=True)  # fmt: skip
        patient.phones = [PatientPhone(number=number)]
        db.session.add(patient)
        db.session.flush()
        db.session.add(FollowUpTask(campaign_id=campaign.id, patient_id=patient.id))
    db.session.commit()
    return agents, supervisor, campaign


class Telephony:
    """The telephony daemon on an asyncio thread of this process, connected to ``port``."""

    def __init__(self, app, port: int):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.daemon = TelephonyDaemon(app, [EslConfig(port=port, name="fs1")])  # default tick
        self.running = asyncio.run_coroutine_threadsafe(self.daemon.run(), self.loop)
        self._run(self.daemon.pool.wait_connected(10))

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.daemon.stop)
        self.running.result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)


def start_gunicorn(database_url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "APP_ENV": "test", "SECRET_KEY": "bench", "DATABASE_URL": database_url,
           "REDIS_URL": BENCH_REDIS_URL, "DEFAULT_LANGUAGE": "zh"}  # fmt: skip
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    # One thread per open event stream plus room for the pop requests.
    command = [gunicorn, "-k", "gthread", "-w", "2", "--threads", str(AGENTS + 12),
               "-b", f"127.0.0.1:{port}", "--log-level", "warning",
               "callcenter:create_app()"]  # fmt: skip
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("gunicorn did not come up")


def open_desks(browser, base: str, agents: list[User]) -> list:
    pages = []
    for agent in agents:
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        page = context.new_page()
        page.goto(f"{base}/login")
        page.fill("input[name=username]", agent.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("form.card button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/desk")
        page.wait_for_function("window.ccDesk && window.ccDesk.connected", timeout=20_000)
        pages.append(page)
    return pages


def make_ready(agents: list[User]) -> None:
    for agent in agents:
        db.session.merge(AgentState(user_id=agent.id, state=Presence.READY, reason="",
                                    since=utcnow()))  # fmt: skip
    db.session.commit()


def wait_until_done(campaign_id: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    open_states = (TaskState.PENDING, TaskState.SCHEDULED, TaskState.DIALING, TaskState.IN_CALL)
    while time.monotonic() < deadline:
        db.session.rollback()
        counts = dict(
            db.session.execute(
                select(FollowUpTask.state, func.count())
                .where(FollowUpTask.campaign_id == campaign_id)
                .group_by(FollowUpTask.state)
            ).all()
        )
        if not any(counts.get(s) for s in open_states):
            return counts
        time.sleep(0.5)
    return counts


def run_campaign(app, agents: list[User], supervisor: User, campaign: Campaign):
    """Open the desks, start the campaign, wait for it; every pop's timings."""
    from playwright.sync_api import sync_playwright

    total = AGENTS * CALLS_PER_AGENT
    port = free_port()
    gunicorn = start_gunicorn(str(db.engine.url.render_as_string(False)), port)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
            )
            pages = open_desks(browser, f"http://127.0.0.1:{port}", agents)
            make_ready(agents)
            campaign_control.control(db.session, supervisor, campaign.id, "start")
            db.session.commit()
            counts = wait_until_done(campaign.id, timeout=60 + total * 2)
            time.sleep(1.5)  # the last pops' fetch and swap
            pops = [
                p
                for page in pages
                for p in page.evaluate("Object.values(window.ccDesk.pops)")
                if p.get("shownAt") and p.get("switchAtMs")
            ]
            browser.close()
    finally:
        gunicorn.terminate()  # open event streams end at their next heartbeat
        try:
            gunicorn.wait(20)
        except subprocess.TimeoutExpired:
            gunicorn.kill()
            gunicorn.wait()
    return pops, counts


def screen_pop_latency() -> None:
    total = AGENTS * CALLS_PER_AGENT
    print(f"== screen pop end to end: {AGENTS} agents in Chromium, {total} calls", flush=True)
    redis.Redis.from_url(BENCH_REDIS_URL).flushdb()
    with tempfile.TemporaryDirectory() as workdir, bench_app() as app:
        agents, supervisor, campaign = seed()
        with simulator(Path(workdir), PATIENT) as esl_port:
            telephony = Telephony(app, esl_port)
            try:
                pops, counts = run_campaign(app, agents, supervisor, campaign)
            finally:
                telephony.close()
    # Where the time goes: switch -> published (daemon), -> in the tab (Redis, SSE), -> the
    # pop's HTML there (fetched when the patient answered, or now) -> put into the page.
    stages = {
        "daemon": [p["publishedAt"] - p["switchAtMs"] for p in pops],
        "stream": [p["receivedAt"] - p["publishedAt"] for p in pops],
        "fetch": [p["respondedAt"] - p["receivedAt"] for p in pops if "respondedAt" in p],
        "swap": [p["shownAt"] - p["respondedAt"] for p in pops if "respondedAt" in p],
    }
    note(
        ", ".join(
            f"{k} p50 {median(v):.0f} / p95 {percentile(v, 0.95):.0f} ms"
            for k, v in stages.items()
            if v
        )
    )
    note(f"tasks by state: { {str(k): v for k, v in counts.items()} }")
    samples = [p["shownAt"] - p["switchAtMs"] for p in pops]
    if not samples:
        raise RuntimeError("no screen pop was measured")
    report("desk.screen_pop.e2e.p95", percentile(samples, 0.95), "ms", at_most=GOAL_P95_MS,
           detail=f"p50 {median(samples):.0f} ms, {len(samples)} pops, "
                  f"{AGENTS} agents connected")  # fmt: skip


if __name__ == "__main__":
    screen_pop_latency()
