"""The telephony daemon against the simulator: dialler throughput and the screen-pop path.

Both parts run the real ``TelephonyDaemon`` (its asyncio loop on a thread of this process, its
database thread, PostgreSQL, Redis) against the softswitch simulator in a child process, as
FreeSWITCH would be: the simulator's CPU does not compete with the daemon's for the GIL.

1. Originates per second: an IVR campaign of busy patients (``ring_seconds=0``,
   ``max_attempts=1``), so every originate ends at once, each task is dialled exactly once and
   neither an IVR server nor agents are needed (an IVR campaign hands a call to ``&socket``
   only on answer); the dialler ticks every 10 ms. Timed from the campaign's start until every
   task is final, for at most 45 s: a slower run is credited with the tasks that became final
   (calls placed but still waiting for their events do not count). Events applied per second
   counts every event the daemon passed to ``CallController.handle``.
2. Screen pop: an agent campaign with answering patients; for each ``call.bridged`` message
   on an agent's Redis channel, the time from the simulator stamping CHANNEL_BRIDGE
   (``Event-Date-Timestamp``, carried as ``switch_at_us``) to a redis-py subscriber on a
   thread here receiving it. The simulator's clock is ``time.time()`` at its start plus
   monotonic time divided by ``time_scale``: wall-clock time only with ``time_scale=1``, which
   this part uses (the same host clock as ours, so the difference is a latency). The daemon
   ticks every 0.2 s here, its default.

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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import redis
from flask import Flask
from sqlalchemy import event, func, select, update

from bench.common import bench_app, median, note, percentile, report
from callcenter.extensions import db
from callcenter.jobs import JobQueue
from callcenter.models import (
    ACTIVE_CALL_STATUSES,
    AgentState,
    CallAttempt,
    CallStatus,
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
PROFILE_TASKS = int(os.environ.get("BENCH_DIALER_PROFILE_TASKS", "300"))
POP_CALLS = int(os.environ.get("BENCH_DIALER_POP_CALLS", "100"))
AGENTS = 10
DIAL_TICK = 0.01  # the dialler's pass interval for the throughput run
POP_TICK = 0.2  # the daemon's default, as production runs it
RUN_TIMEOUT = 45.0  # seconds; a slower run reports the tasks it finished
PROFILE_TIMEOUT = 20.0
POP_TIMEOUT = 40.0
GOAL_ORIGINATES_PER_SECOND = 200
GOAL_POP_P95_MS = 50
ALWAYS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "23:59"}]
PROFILE_LINES = 14

BUSY = {"outcome": "busy", "ring_seconds": 0}
ANSWER = {"outcome": "answer", "ring_seconds": 0.2, "hangup_after": 1.0}


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
            proc.stdout.close()


class Probe:
    """Counts and times what the daemon does, by wrapping its parts before it starts; SQL
    statements and commits on the database thread are counted by phase."""

    def __init__(self, daemon: TelephonyDaemon):
        self.events: Counter[str] = Counter()
        self.event_s: Counter[str] = Counter()  # seconds in CallController.handle, by event
        self.handled = 0  # events with a controller handler (on_<name>)
        self.batches = 0  # transactions the events were applied in
        self.passes: list[tuple[float, int]] = []  # dialler passes: (seconds, originates)
        self.trunks_s = self.db_busy_s = self.send_s = 0.0
        self.originates = self.ready_checks = 0  # ready checks: Dialer._ready_to_dial calls
        self.bridge_wait_ms: list[float] = []  # switch stamp -> CHANNEL_BRIDGE handler starts
        self.bridge_handle_ms: list[float] = []  # the handler, commit and publish included
        self.sql: Counter[str] = Counter()
        self.commits: Counter[str] = Counter()
        self.local = threading.local()  # each database thread has its own phase
        controller, dialer = daemon.controller, daemon.dialer
        handle_batch, plan, trunks = (
            controller.handle_batch,
            dialer.plan,
            daemon._apply_trunk_states,
        )
        ready_to_dial = dialer._ready_to_dial
        execute = daemon.execute

        def timed_handle_batch(batch):
            """Events come in batches (one transaction each): a batch's time is shared out
            evenly among its events; a CHANNEL_BRIDGE's handling time is its whole batch's."""
            started, self.local.phase = time.perf_counter(), "events"
            for _node, switch_event in batch:
                if switch_event.name == "CHANNEL_BRIDGE":
                    switch_us = int(switch_event.get("Event-Date-Timestamp") or 0)
                    self.bridge_wait_ms.append((time.time_ns() / 1000 - switch_us) / 1000)
            try:
                return handle_batch(batch)
            finally:
                took = time.perf_counter() - started
                for _node, switch_event in batch:
                    self.event_s[switch_event.name] += took / len(batch)
                    self.events[switch_event.name] += 1
                    self.handled += hasattr(controller, f"on_{switch_event.name.lower()}")
                if any(e.name == "CHANNEL_BRIDGE" for _n, e in batch):
                    self.bridge_handle_ms.append(took * 1000)
                self.batches += 1
                self.local.phase = "other"

        def timed_plan():
            started, self.local.phase, actions = time.perf_counter(), "dialler", []
            try:
                actions = plan()
                return actions
            finally:
                self.passes.append((time.perf_counter() - started, len(actions)))
                self.local.phase = "other"

        def counted_ready_to_dial(*args):
            self.ready_checks += 1
            return ready_to_dial(*args)

        def timed_trunks(states):
            started, self.local.phase = time.perf_counter(), "trunk marking"
            try:
                return trunks(states)
            finally:
                self.trunks_s += time.perf_counter() - started
                self.local.phase = "other"

        def timed(submit):
            def timed_submit(fn, *args, **kwargs):
                def timed():  # the whole job on a database thread: app context, session, work
                    started = time.perf_counter()
                    try:
                        return fn(*args, **kwargs)
                    finally:
                        self.db_busy_s += time.perf_counter() - started

                return submit(timed)

            return timed_submit

        async def timed_execute(action):
            started = time.perf_counter()
            try:
                return await execute(action)
            finally:
                if isinstance(action, Originate):
                    self.send_s += time.perf_counter() - started
                    self.originates += 1

        controller.handle_batch = timed_handle_batch
        dialer.plan = timed_plan
        dialer._ready_to_dial = counted_ready_to_dial
        daemon._apply_trunk_states = timed_trunks
        for pool in (daemon._db, daemon._dial_db):  # the events' thread and the dialler's
            pool.submit = timed(pool.submit)
        daemon.execute = timed_execute

    def on_statement(self, *_args) -> None:
        if threading.current_thread().name.startswith("telephony-"):
            self.sql[getattr(self.local, "phase", "other")] += 1

    def on_commit(self, *_args) -> None:
        if threading.current_thread().name.startswith("telephony-"):
            self.commits[getattr(self.local, "phase", "other")] += 1

    @property
    def event_count(self) -> int:
        return sum(self.events.values())

    @property
    def plan_s(self) -> float:
        return sum(seconds for seconds, _ in self.passes)


class Loop:
    """An asyncio loop on its own thread, as the integration tests run the daemon."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, func) -> None:
        """Run ``func`` on the loop's thread and wait for it."""

        async def call() -> None:
            func()

        self.run(call())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Running:
    daemon: TelephonyDaemon
    probe: Probe
    loop: Loop


@contextmanager
def running_daemon(app: Flask, port: int, tick: float) -> Iterator[Running]:
    """The daemon connected to the simulator at ``port``, probed, on a loop thread."""
    loop = Loop()
    daemon = TelephonyDaemon(app, [EslConfig(port=port, name="fs1")], tick=tick)
    probe = Probe(daemon)
    event.listen(db.engine, "before_cursor_execute", probe.on_statement)
    event.listen(db.engine, "commit", probe.on_commit)
    running = asyncio.run_coroutine_threadsafe(daemon.run(), loop.loop)
    try:
        loop.run(daemon.pool.wait_connected(10))
        yield Running(daemon, probe, loop)
    finally:
        loop.loop.call_soon_threadsafe(daemon.stop)
        running.result(30)
        loop.close()
        event.remove(db.engine, "before_cursor_execute", probe.on_statement)
        event.remove(db.engine, "commit", probe.on_commit)


# -- data --------------------------------------------------------------------------------------


def patient_timezone() -> str:
    """The windows close at 23:59 local time: pick a zone where it is not that late now."""
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
        max_attempts=1,  # each task is dialled once, then final
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
    """``count`` callable patients (numbers from ``first`` on) and a pending task for each."""
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
    numbers = [f"+86138{first + i:08d}" for i in range(count)]
    phones = [
        {
            "patient_id": patient_id, "number": number,
            "digits_reversed": reversed_digits(number), "kind": "mobile", "position": 0,
        }
        for patient_id, number in zip(ids, numbers, strict=True)
    ]  # fmt: skip
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
    """Agents with SIP extensions, READY (the simulator's phones answer ``user/<ext>``)."""
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


def _scalar(query):
    value = db.session.scalar(query)
    db.session.rollback()  # no snapshot kept between polls
    return value


def final_tasks(campaign_id: int) -> int:
    return _scalar(
        select(func.count(FollowUpTask.id)).where(
            FollowUpTask.campaign_id == campaign_id, FollowUpTask.state.in_(FINAL_STATES)
        )
    )


def run_campaign(campaign: Campaign, tasks: int, timeout: float) -> tuple[float, int]:
    """Start ``campaign``; seconds until all ``tasks`` are final (or ``timeout``), and how
    many are final then."""
    campaign_id = campaign.id
    campaign.status = CampaignStatus.RUNNING
    db.session.commit()
    started = time.perf_counter()
    while True:
        done = final_tasks(campaign_id)
        elapsed = time.perf_counter() - started
        if done >= tasks or elapsed >= timeout:
            return elapsed, done
        time.sleep(0.02)


def calls_of(campaign_id: int) -> int:
    return _scalar(select(func.count(CallAttempt.id)).where(CallAttempt.campaign_id == campaign_id))


def task_states(campaign_id: int) -> str:
    rows = db.session.execute(
        select(FollowUpTask.state, func.count())
        .where(FollowUpTask.campaign_id == campaign_id)
        .group_by(FollowUpTask.state)
    ).all()
    db.session.rollback()
    return ", ".join(f"{count:,} {state}" for state, count in sorted(rows))


# -- 1. originates per second --------------------------------------------------------------------


def throughput(app: Flask, workdir: Path, trunk: Trunk) -> bool:
    campaign = make_campaign("bench busy", CampaignKind.IVR, trunk)
    add_tasks(campaign, TASKS, first=0)
    with simulator(workdir, BUSY) as port, running_daemon(app, port, DIAL_TICK) as run:
        seconds, done = run_campaign(campaign, TASKS, RUN_TIMEOUT)
        probe = run.probe
        events, handled = probe.event_count, probe.handled
        backlog = sum(client._queue.qsize() for client in run.daemon.pool)
        states = task_states(campaign.id)
    calls = calls_of(campaign.id)
    retire(campaign.id)
    finished = done >= TASKS
    # Calls whose task is final: the same as all calls when the run finishes, and no credit
    # for originates still waiting for their events when it times out.
    result = report(
        "dialer.originates_per_second",
        done / seconds,
        "/s",
        at_least=GOAL_ORIGINATES_PER_SECOND,
        detail=f"{done:,} of {TASKS:,} tasks final in {seconds:.1f} s"
        + ("" if finished else f", TIMED OUT; {calls:,} calls placed, {calls / seconds:.0f}/s"),
    )
    report(
        "dialer.events_applied_per_second",
        events / seconds,
        "ev/s",
        detail=f"{events:,} events, {handled:,} of them with a handler; {backlog:,} queued",
    )
    explain_throughput(probe, seconds, calls, states)
    return bool(result.ok)


def explain_throughput(probe: Probe, seconds: float, calls: int, states: str) -> None:
    note(f"tasks when the clock stopped: {states}")
    note(f"events (ms each, batch time shared out): {event_summary(probe)}")
    note(db_thread_summary(probe, seconds))
    durations = [took for took, _ in probe.passes]
    longest, dialled = max(probe.passes, default=(0.0, 0))
    note(
        f"{len(durations):,} dialler passes: median {median(durations) * 1000:.1f} ms, "
        f"longest {longest:.2f} s (it placed {dialled:,} calls; events wait meanwhile)"
    )
    per_call = max(1, calls)
    sql = ", ".join(f"{phase} {count / per_call:.1f}" for phase, count in probe.sql.most_common())
    commits = ", ".join(
        f"{phase} {count / per_call:.1f}" for phase, count in probe.commits.most_common()
    )
    note(
        f"per call placed: SQL statements {sql}; commits {commits}; "
        f"{probe.ready_checks / per_call:.1f} patients checked (Dialer._ready_to_dial)"
    )
    note(
        f"event loop: {probe.originates:,} originates sent in the background, bgapi round trip "
        f"{probe.send_s / max(1, probe.originates) * 1000:.2f} ms on average"
    )


def event_summary(probe: Probe, top: int = 8) -> str:
    by_time = sorted(probe.events, key=lambda name: -probe.event_s[name])[:top]
    return ", ".join(
        f"{name} {probe.events[name]:,} ({probe.event_s[name] / probe.events[name] * 1000:.2f})"
        for name in by_time
    )


def db_thread_summary(probe: Probe, seconds: float) -> str:
    events_s = sum(probe.event_s.values())
    other = probe.db_busy_s - probe.plan_s - events_s - probe.trunks_s
    return (
        f"database threads (events, dialler) busy {probe.db_busy_s:.1f} s in {seconds:.1f} s: "
        f"dialler passes "
        f"{probe.plan_s:.1f} s, event handlers {events_s:.1f} s, trunk marking "
        f"{probe.trunks_s:.1f} s, app context and session {other:.1f} s"
    )


def retire(campaign_id: int) -> None:
    """Stop a campaign and end what it left behind, so the next daemon starts clean (a run
    that timed out leaves calls the next daemon would otherwise reconcile)."""
    db.session.execute(
        update(Campaign).where(Campaign.id == campaign_id).values(status=CampaignStatus.STOPPED)
    )
    db.session.execute(
        update(CallAttempt)
        .where(
            CallAttempt.campaign_id == campaign_id,
            CallAttempt.status.in_(ACTIVE_CALL_STATUSES),
        )
        .values(status=CallStatus.ENDED, ended_at=utcnow(), hangup_cause="BENCH_OVER")
    )
    db.session.execute(
        update(FollowUpTask)
        .where(FollowUpTask.campaign_id == campaign_id, FollowUpTask.state.not_in(FINAL_STATES))
        .values(state=TaskState.CANCELLED)
    )
    db.session.commit()


def profiled_pass(app: Flask, workdir: Path, trunk: Trunk) -> None:
    """A smaller run with cProfile on the daemon's database thread and on its event loop."""
    campaign = make_campaign("bench busy (profiled)", CampaignKind.IVR, trunk)
    add_tasks(campaign, PROFILE_TASKS, first=TASKS)
    db_profile, loop_profile = cProfile.Profile(), cProfile.Profile()
    with simulator(workdir, BUSY) as port, running_daemon(app, port, DIAL_TICK) as run:
        run.daemon._db.submit(db_profile.enable).result()  # the executor's only thread
        run.loop.call(loop_profile.enable)
        seconds, done = run_campaign(campaign, PROFILE_TASKS, PROFILE_TIMEOUT)
        run.daemon._db.submit(db_profile.disable).result()
        run.loop.call(loop_profile.disable)
    retire(campaign.id)
    note(
        f"PROFILE: {done:,} of {PROFILE_TASKS:,} tasks final in {seconds:.1f} s under cProfile "
        f"({done / seconds:.0f}/s); the database thread, by cumulative time (callcenter code):"
    )
    print_profile(db_profile, "cumulative", "callcenter/")
    note("PROFILE: the database thread, by own time (SimpleQueue.get: waiting for work):")
    print_profile(db_profile, "tottime", None)
    stats = pstats.Stats(loop_profile)
    idle = sum(
        tt for (_f, _l, name), (_cc, _nc, tt, _ct, _c) in stats.stats.items() if "poll" in name
    )
    note(
        f"PROFILE: the event loop was busy {stats.total_tt - idle:.1f} s of "
        f"{stats.total_tt:.1f} s (reading and parsing events, sending commands)"
    )


def print_profile(profile: cProfile.Profile, order: str, only: str | None) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    if only is None:
        stats.strip_dirs()
    stats.sort_stats(order).print_stats(*([only] if only else []), PROFILE_LINES)
    lines = out.getvalue().splitlines()
    header = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    for line in lines[header:]:
        if line.strip():
            note("   " + line.replace(str(ROOT) + "/", "").replace(str(sys.prefix) + "/", ""))


# -- 2. screen pop -------------------------------------------------------------------------------


class PopListener(threading.Thread):
    """Subscribes to the agents' channels; records receive time - switch time per bridge."""

    def __init__(self, agent_ids: list[int]):
        super().__init__(daemon=True)
        self.conn = redis.Redis.from_url(REDIS_URL)
        self.pubsub = self.conn.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(*(agent_channel(agent_id) for agent_id in agent_ids))
        self.latency_ms: list[float] = []
        self.to_publish_ms: list[float] = []  # switch -> the daemon's publish (the "at" field)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            message = self.pubsub.get_message(timeout=0.1)
            if message is None or message["type"] != "message":
                continue
            received_us = time.time_ns() / 1000
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
        with simulator(workdir, ANSWER) as port, running_daemon(app, port, POP_TICK) as run:
            seconds, done = run_campaign(campaign, POP_CALLS, POP_TIMEOUT)
            time.sleep(0.2)  # the last messages are on their way
            probe = run.probe
    finally:
        listener.stop()
    samples = listener.latency_ms
    if not samples:
        report("dialer.screen_pop.p95", float("inf"), "ms", at_most=GOAL_POP_P95_MS)
        note(f"no call.bridged message arrived; tasks: {task_states(campaign.id)}")
        return
    report(
        "dialer.screen_pop.p95",
        percentile(samples, 0.95),
        "ms",
        at_most=GOAL_POP_P95_MS,
        detail=f"p50 {median(samples):.2f} ms, max {max(samples):.2f} ms, {len(samples)} pops",
    )
    wait, handle = probe.bridge_wait_ms, probe.bridge_handle_ms
    publish = listener.to_publish_ms
    note(
        f"of which: switch -> handler starts p50 {median(wait):.1f} / p95 "
        f"{percentile(wait, 0.95):.1f} ms (ESL, the event queue, the database thread's queue); "
        f"handler p50 {median(handle):.1f} / p95 {percentile(handle, 0.95):.1f} ms; switch -> "
        f"publish p50 {median(publish):.1f} / p95 {percentile(publish, 0.95):.1f} ms"
    )
    waits = bridge_waits(campaign.id)
    note(
        f"{done} of {POP_CALLS} tasks final in {seconds:.1f} s ({task_states(campaign.id)}); "
        f"patient answered -> bridged (daemon clock) p50 {median(waits):.0f} / p95 "
        f"{percentile(waits, 0.95):.0f} ms; {probe.event_count:,} events"
    )
    durations = [seconds * 1000 for seconds, _ in probe.passes]
    note(
        f"{len(durations)} dialler passes (events wait for a pass to finish): median "
        f"{median(durations):.1f} ms, p95 {percentile(durations, 0.95):.1f} ms, "
        f"{probe.ready_checks / max(1, POP_CALLS):.1f} patients checked per call"
    )
    note(f"events (ms each, batch time shared out): {event_summary(probe)}")
    note(db_thread_summary(probe, seconds))
    if min(samples) < 0:
        note("negative latencies: the simulator's clock is not this host's wall clock")


def bridge_waits(campaign_id: int) -> list[float]:
    """Milliseconds each bridged patient waited on the line after answering (daemon clock)."""
    rows = db.session.execute(
        select(CallAttempt.answered_at, CallAttempt.bridged_at).where(
            CallAttempt.campaign_id == campaign_id, CallAttempt.bridged_at.is_not(None)
        )
    ).all()
    db.session.rollback()
    return [(bridged - answered).total_seconds() * 1000 for answered, bridged in rows] or [0.0]


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
