"""The telephony daemon against the simulator: dialler throughput and the screen-pop path.

Both parts run the real ``TelephonyDaemon`` (its asyncio loop on a thread of this process, its
database thread, PostgreSQL, Redis) against the softswitch simulator in a child process, as
FreeSWITCH would be: the simulator's CPU does not compete with the daemon's for the GIL.

1. Originates per second: an IVR campaign of busy patients (``ring_seconds=0``,
   ``max_attempts=1``), so every originate ends at once, each task is dialled exactly once and
   neither an IVR server nor agents are needed (an IVR campaign hands a call to ``&socket``
   only on answer). Timed from the campaign's start until every task is final. Events applied
   per second counts every event the daemon passed to ``CallController.handle``.
2. Screen pop: an agent campaign with answering patients; for each ``call.bridged`` message
   on an agent's Redis channel, the time from the simulator stamping CHANNEL_BRIDGE
   (``Event-Date-Timestamp``, carried as ``switch_at_us``) to a redis-py subscriber on a
   thread here receiving it. The simulator's clock is ``time.time()`` at its start plus
   monotonic time divided by ``time_scale``: wall-clock time only with ``time_scale=1``, which
   this part uses (the same host clock as ours, so the difference is a latency).

Redis database 10 (``BENCH_DIALER_REDIS_URL``) is flushed before and after. When the
throughput goal is missed, a smaller profiled pass (cProfile on the daemon's database thread and
on its event loop) prints where the time goes; ``BENCH_DIALER_PROFILE=1`` always profiles,
``=0`` never. Run with ``python -m bench.bench_dialer``.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import redis
from flask import Flask
from sqlalchemy import func, select

from bench.common import bench_app, median, note, percentile, report
from callcenter.extensions import db
from callcenter.jobs import JobQueue
from callcenter.models import (
    AgentState,
    CallAttempt,
    Campaign,
    CampaignAgent,
    CampaignKind,
    CampaignStatus,
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
from callcenter.models.patient import reversed_digits
from callcenter.services.imports.bulk import insert_rows
from callcenter.services.tasks import FINAL_STATES
from callcenter.telephony.actions import Originate
from callcenter.telephony.daemon import TelephonyDaemon
from callcenter.telephony.esl import EslConfig
from callcenter.telephony.notifier import agent_channel

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("BENCH_DIALER_REDIS_URL", "redis://127.0.0.1:6379/10")
TASKS = int(os.environ.get("BENCH_DIALER_TASKS", "2000"))
PROFILE_TASKS = int(os.environ.get("BENCH_DIALER_PROFILE_TASKS", "600"))
POP_CALLS = int(os.environ.get("BENCH_DIALER_POP_CALLS", "100"))
AGENTS = 10
DIAL_TICK = 0.01  # the dialler's pass interval for the throughput run
POP_TICK = 0.2  # the daemon's default, as production runs it
RUN_TIMEOUT = 75.0  # seconds; a slower run reports what it managed
GOAL_ORIGINATES_PER_SECOND = 200
GOAL_POP_P95_MS = 50
ALWAYS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "23:59"}]
PROFILE_LINES = 14

BUSY = {"outcome": "busy", "ring_seconds": 0}
ANSWER = {"outcome": "answer", "ring_seconds": 0.2, "hangup_after": 0.6}


# -- the simulator and the daemon ------------------------------------------------------------


@contextmanager
def simulator(workdir: Path, default_script: dict) -> Iterator[int]:
    """The simulator in a child process, every number scripted ``default_script``; its port."""
    scripts = workdir / f"scripts-{default_script['outcome']}.json"
    scripts.write_text(json.dumps({"default": default_script}))
    log_path = workdir / f"sim-{default_script['outcome']}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "callcenter.telephony.simulator",
                "--port=0",
                f"--scripts={scripts}",
                "--time-scale=1",
                "--heartbeat=5",
                "--log-level=WARNING",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        try:
            line = proc.stdout.readline().decode()  # "... listening on 127.0.0.1:PORT"
            if "listening on" not in line:
                raise RuntimeError(f"simulator did not start: {log_path.read_text()[-2000:]}")
            yield int(line.rsplit(":", 1)[1])
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


class Probe:
    """Counts and times what the daemon does, by wrapping its parts before it starts."""

    def __init__(self, daemon: TelephonyDaemon):
        self.events: Counter[str] = Counter()
        self.handled = 0  # events with a controller handler (on_<name>)
        self.handle_s = self.plan_s = self.trunks_s = self.db_busy_s = self.send_s = 0.0
        self.plans = self.originates = 0
        controller, dialer, pool = daemon.controller, daemon.dialer, daemon._db
        handle, plan, trunks = controller.handle, dialer.plan, daemon._apply_trunk_states
        submit, execute = pool.submit, daemon.execute

        def timed_handle(node, event):
            started = time.perf_counter()
            try:
                return handle(node, event)
            finally:
                self.handle_s += time.perf_counter() - started
                self.events[event.name] += 1
                self.handled += hasattr(controller, f"on_{event.name.lower()}")

        def timed_plan():
            started = time.perf_counter()
            try:
                return plan()
            finally:
                self.plan_s += time.perf_counter() - started
                self.plans += 1

        def timed_trunks(states):
            started = time.perf_counter()
            try:
                return trunks(states)
            finally:
                self.trunks_s += time.perf_counter() - started

        def timed_submit(fn, *args, **kwargs):
            def timed():  # the whole job on the database thread: app context, session, work
                started = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    self.db_busy_s += time.perf_counter() - started

            return submit(timed)

        async def timed_execute(action):
            started = time.perf_counter()
            try:
                return await execute(action)
            finally:
                if isinstance(action, Originate):
                    self.send_s += time.perf_counter() - started
                    self.originates += 1

        controller.handle = timed_handle
        dialer.plan = timed_plan
        daemon._apply_trunk_states = timed_trunks
        pool.submit = timed_submit
        daemon.execute = timed_execute

    @property
    def event_count(self) -> int:
        return sum(self.events.values())


class Loop:
    """An asyncio loop on its own thread, as the integration tests run the daemon."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@contextmanager
def running_daemon(app: Flask, port: int, tick: float) -> Iterator[tuple[TelephonyDaemon, Probe]]:
    loop = Loop()
    daemon = TelephonyDaemon(app, [EslConfig(port=port, name="fs1")], tick=tick)
    probe = Probe(daemon)
    running = asyncio.run_coroutine_threadsafe(daemon.run(), loop.loop)
    try:
        loop.run(daemon.pool.wait_connected(10))
        daemon.loop = loop  # for the profiler
        yield daemon, probe
    finally:
        loop.loop.call_soon_threadsafe(daemon.stop)
        running.result(30)
        loop.close()


# -- data --------------------------------------------------------------------------------------


def patient_timezone() -> str:
    """The windows close at 23:59 local time: pick a zone where that is not now."""
    late = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%H:%M") >= "23:57"
    return "UTC" if late else "Asia/Shanghai"


def make_trunk() -> Trunk:
    trunk = Trunk(
        name="bench-loopback",
        dial_string="loopback/{number}",
        caller_id_number="02150000000",
        caller_id_name="Clinic",
        max_concurrent=1000,
        calls_per_second=1000,
    )
    db.session.add(trunk)
    db.session.commit()
    return trunk


def make_campaign(name: str, kind: CampaignKind, trunk: Trunk, agents=()) -> Campaign:
    campaign = Campaign(
        name=name,
        kind=kind,
        status=CampaignStatus.DRAFT,
        calling_windows=ALWAYS,
        max_attempts=1,
        trunk_id=trunk.id,
        max_concurrent=1000,
        calls_per_second=1000,
        wrap_up_seconds=0,
    )
    campaign.agents = [CampaignAgent(user_id=a.id) for a in agents]
    db.session.add(campaign)
    db.session.commit()
    return campaign


def add_tasks(campaign: Campaign, count: int, first: int) -> None:
    """``count`` callable patients (numbers from ``first``) and a pending task for each."""
    now, tz = utcnow(), patient_timezone()
    patients = [
        {
            "card_number": f"D{first + i:07d}", "name": f"Bench {first + i}", "sex": "unknown",
            "timezone": tz, "language": "zh", "consent_call": True, "consent_record": True,
            "do_not_call": False, "created_at": now, "updated_at": now,
        }
        for i in range(count)
    ]  # fmt: skip
    ids = insert_rows(db.session, Patient.__table__, patients, with_ids=True)
    phones = []
    for i, patient_id in enumerate(ids):
        number = f"+86138{first + i:08d}"
        phones.append(
            {
                "patient_id": patient_id, "number": number,
                "digits_reversed": reversed_digits(number), "kind": "mobile", "position": 0,
            }
        )  # fmt: skip
    insert_rows(db.session, PatientPhone.__table__, phones)
    tasks = [
        {
            "campaign_id": campaign.id, "patient_id": patient_id, "assigned_agent_id": None,
            "state": TaskState.PENDING, "priority": 0, "reason": "", "due_at": None,
            "attempts": 0, "state_changed_at": now, "created_at": now,
        }
        for patient_id in ids
    ]  # fmt: skip
    insert_rows(db.session, FollowUpTask.__table__, tasks)
    db.session.commit()


def make_agents(count: int) -> list[User]:
    agents = [
        User(
            username=f"bench-agent-{i}",
            display_name=f"Agent {i}",
            role=Role.AGENT,
            password_hash="bench",
            sip_extension=f"30{i:02d}",
        )
        for i in range(count)
    ]
    db.session.add_all(agents)
    db.session.flush()
    now = utcnow()
    for agent in agents:
        db.session.add(AgentState(user_id=agent.id, state=Presence.READY, reason="", since=now))
    db.session.commit()
    return agents


# -- running a campaign ------------------------------------------------------------------------


def open_tasks(campaign_id: int) -> int:
    count = db.session.scalar(
        select(func.count(FollowUpTask.id)).where(
            FollowUpTask.campaign_id == campaign_id, FollowUpTask.state.not_in(FINAL_STATES)
        )
    )
    db.session.rollback()  # no snapshot kept between polls
    return count


def run_campaign(campaign: Campaign, timeout: float = RUN_TIMEOUT) -> tuple[float, bool]:
    """Start ``campaign``; seconds until every task is final (or the timeout), and whether all
    became final."""
    campaign_id = campaign.id
    campaign.status = CampaignStatus.RUNNING
    db.session.commit()
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if open_tasks(campaign_id) == 0:
            return time.perf_counter() - started, True
        time.sleep(0.02)
    return time.perf_counter() - started, False


def calls_of(campaign_id: int) -> int:
    count = db.session.scalar(
        select(func.count(CallAttempt.id)).where(CallAttempt.campaign_id == campaign_id)
    )
    db.session.rollback()
    return count


def final_states(campaign_id: int) -> dict[str, int]:
    rows = db.session.execute(
        select(FollowUpTask.state, func.count())
        .where(FollowUpTask.campaign_id == campaign_id)
        .group_by(FollowUpTask.state)
    ).all()
    db.session.rollback()
    return {str(state): count for state, count in rows}


# -- 1. originates per second --------------------------------------------------------------------


def throughput(app: Flask, workdir: Path, trunk: Trunk) -> bool:
    campaign = make_campaign("bench busy", CampaignKind.IVR, trunk)
    add_tasks(campaign, TASKS, first=0)
    with simulator(workdir, BUSY) as port, running_daemon(app, port, DIAL_TICK) as (_, probe):
        seconds, finished = run_campaign(campaign)
        events, handled = probe.event_count, probe.handled
        backlog = sum(client._queue.qsize() for client in _.pool)
    calls = calls_of(campaign.id)
    result = report(
        "dialer.originates_per_second",
        calls / seconds,
        "/s",
        at_least=GOAL_ORIGINATES_PER_SECOND,
        detail=f"{calls:,} calls in {seconds:.1f} s" + ("" if finished else ", TIMED OUT"),
    )
    report(
        "dialer.events_applied_per_second",
        events / seconds,
        "ev/s",
        detail=f"{events:,} events, {handled:,} with a handler, {backlog} still queued",
    )
    note(f"tasks: {final_states(campaign.id)}; events: {dict(probe.events.most_common())}")
    note(
        f"database thread busy {probe.db_busy_s:.1f} s of {seconds:.1f} s: dialler passes "
        f"{probe.plan_s:.1f} s ({probe.plans:,} passes, "
        f"{probe.plan_s / max(1, probe.plans) * 1000:.1f} ms each), event handlers "
        f"{probe.handle_s:.1f} s ({probe.handle_s / max(1, events) * 1000:.2f} ms/event), "
        f"trunk marking {probe.trunks_s:.1f} s, the rest (app context, session) "
        f"{probe.db_busy_s - probe.plan_s - probe.handle_s - probe.trunks_s:.1f} s"
    )
    note(
        f"event loop: {probe.originates:,} originates sent one after another in "
        f"{probe.send_s:.1f} s ({probe.send_s / max(1, probe.originates) * 1000:.2f} ms each)"
    )
    return bool(result.ok)


def profiled_pass(app: Flask, workdir: Path, trunk: Trunk) -> None:
    """A smaller run with cProfile on the daemon's database thread and on its event loop."""
    campaign = make_campaign("bench busy (profiled)", CampaignKind.IVR, trunk)
    add_tasks(campaign, PROFILE_TASKS, first=TASKS)
    db_profile, loop_profile = cProfile.Profile(), cProfile.Profile()
    with simulator(workdir, BUSY) as port, running_daemon(app, port, DIAL_TICK) as (daemon, _):
        daemon._db.submit(db_profile.enable).result()  # the database thread is the executor's
        asyncio.run_coroutine_threadsafe(_call(loop_profile.enable), daemon.loop.loop).result()
        seconds, _finished = run_campaign(campaign)
        daemon._db.submit(db_profile.disable).result()
        asyncio.run_coroutine_threadsafe(_call(loop_profile.disable), daemon.loop.loop).result()
    calls = calls_of(campaign.id)
    note(f"profiled pass: {calls:,} calls in {seconds:.1f} s ({calls / seconds:.0f}/s)")
    for name, profile in (("database thread", db_profile), ("event loop", loop_profile)):
        note(f"-- {name}, by cumulative time (callcenter code):")
        print_profile(profile, "cumulative", r"callcenter/")
        note(f"-- {name}, by own time:")
        print_profile(profile, "tottime", "")


async def _call(func) -> None:
    func()


def print_profile(profile: cProfile.Profile, order: str, pattern: str) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out).strip_dirs() if not pattern else None
    stats = stats or pstats.Stats(profile, stream=out)
    stats.sort_stats(order).print_stats(pattern or ".", PROFILE_LINES) if pattern else (
        stats.sort_stats(order).print_stats(PROFILE_LINES)
    )
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    for line in lines[start:]:
        if line.strip():
            note("   " + line.replace(str(ROOT) + "/", "")[:160])


# -- 2. screen pop -------------------------------------------------------------------------------


class PopListener(threading.Thread):
    """Subscribes to the agents' channels; records receive time - switch time per bridge."""

    def __init__(self, agent_ids: list[int]):
        super().__init__(daemon=True)
        self.conn = redis.Redis.from_url(REDIS_URL)
        self.pubsub = self.conn.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(*(agent_channel(agent_id) for agent_id in agent_ids))
        self.latency_ms: list[float] = []
        self.to_publish_ms: list[float] = []  # switch -> the daemon's publish ("at" field)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            message = self.pubsub.get_message(timeout=0.1)
            if message is None or message["type"] != "message":
                continue
            received_us = time.time_ns() // 1000
            data = json.loads(message["data"])
            if data.get("type") != "call.bridged" or not data.get("switch_at_us"):
                continue
            switch_us = data["switch_at_us"]
            self.latency_ms.append((received_us - switch_us) / 1000)
            published_us = datetime.fromisoformat(data["at"]).timestamp() * 1_000_000
            self.to_publish_ms.append((published_us - switch_us) / 1000)

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)
        self.pubsub.close()
        self.conn.close()


def screen_pop(app: Flask, workdir: Path, trunk: Trunk) -> None:
    agents = make_agents(AGENTS)
    campaign = make_campaign("bench screen pop", CampaignKind.AGENT, trunk, agents)
    add_tasks(campaign, POP_CALLS, first=TASKS + PROFILE_TASKS)
    listener = PopListener([agent.id for agent in agents])
    listener.start()
    try:
        with simulator(workdir, ANSWER) as port, running_daemon(app, port, POP_TICK):
            seconds, finished = run_campaign(campaign)
            time.sleep(0.2)  # the last messages are on their way
    finally:
        listener.stop()
    samples = listener.latency_ms
    if not samples:
        report("dialer.screen_pop.p95", float("inf"), "ms", at_most=GOAL_POP_P95_MS)
        note(f"no call.bridged message arrived; tasks: {final_states(campaign.id)}")
        return
    report(
        "dialer.screen_pop.p95",
        percentile(samples, 0.95),
        "ms",
        at_most=GOAL_POP_P95_MS,
        detail=f"p50 {median(samples):.2f} ms, max {max(samples):.2f} ms, {len(samples)} pops",
    )
    publish = listener.to_publish_ms
    note(
        f"switch -> daemon publish: p50 {median(publish):.2f} ms, p95 "
        f"{percentile(publish, 0.95):.2f} ms; {POP_CALLS} calls, {AGENTS} agents in "
        f"{seconds:.1f} s{'' if finished else ' (TIMED OUT)'}; tasks: {final_states(campaign.id)}"
    )
    if min(samples) < 0:
        note("negative latencies: the simulator's clock is not this host's wall clock")


# -- main ------------------------------------------------------------------------------------------


@contextmanager
def bench_redis(app: Flask) -> Iterator[None]:
    """The daemon's Redis (jobs, notifications, command stream) on database 10, flushed."""
    jobs = JobQueue.from_url(REDIS_URL)
    jobs.connection.flushdb()
    app.config["REDIS_URL"] = REDIS_URL
    app.extensions["callcenter.jobs"] = jobs
    try:
        yield
    finally:
        jobs.connection.flushdb()
        jobs.connection.close()


def main() -> None:
    print(
        f"== dialer bench: {TASKS:,} busy patients at full speed; screen pop over "
        f"{POP_CALLS} bridged calls, {AGENTS} agents",
        flush=True,
    )
    with (
        bench_app() as app,
        bench_redis(app),
        tempfile.TemporaryDirectory(prefix="cc_bench_dialer_") as tmp,
    ):
        workdir = Path(tmp)
        app.config["RECORDINGS_DIR"] = str(workdir / "recordings")  # the simulator writes WAVs
        trunk = make_trunk()
        met = throughput(app, workdir, trunk)
        wanted = os.environ.get("BENCH_DIALER_PROFILE")
        if wanted == "1" or (wanted != "0" and not met):
            profiled_pass(app, workdir, trunk)
        screen_pop(app, workdir, trunk)


if __name__ == "__main__":
    main()
