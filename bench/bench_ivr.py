"""IVR: concurrent sessions one telephony process carries, and keypress -> next prompt latency.

The real ``TelephonyDaemon`` (hosting the IVR server) runs on a loop thread of this process
against the simulator in a child process (``time_scale=1``: simulated time is wall time). An
IVR campaign of SESSIONS patients, all dialled at once, runs a two-question keypad
questionnaire (yes/no, then a number ending with # that is read back and confirmed: three
keypresses per call). Every patient stays on the line ten minutes unless the flow ends, so the
sessions overlap; a session counts only if its outcome and answers are exactly right.

Latency: a second event-socket client listens to DTMF and PLAYBACK_START. For each prompt
that starts after keys were pressed on that channel, the time from the last key (the
simulator's ``Event-Date-Timestamp``) to the prompt's start: the simulator delivering the
digit, the IVR seeing the application complete and sending the next prompt, and the switch
starting it. Prompts are synthesized before the clock starts (as the cache holds them in
production after the first call). Redis database 6 (``BENCH_IVR_REDIS_URL``) is flushed.
Run with ``python -m bench.bench_ivr``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bench import bench_dialer
from bench.common import bench_app, median, note, percentile, report
from callcenter.extensions import db
from callcenter.jobs import JobQueue
from callcenter.models import CampaignKind, CampaignStatus
from callcenter.models.ivr import IvrCall, IvrCampaignSettings, IvrFlow, IvrOutcome
from callcenter.models.ivr import IvrQuestionnaireResponse as Response
from callcenter.telephony.esl import EslClient, EslConfig
from ivr import texts
from ivr.prompts import PromptLibrary, store_from_config

SESSIONS = int(os.environ.get("BENCH_IVR_SESSIONS", "250"))
REDIS_URL = os.environ.get("BENCH_IVR_REDIS_URL", "redis://127.0.0.1:6379/6")
TIMEOUT = 180.0
SCRIPT = [
    {"key": "feels_well", "type": "yes_no", "text": {"zh": "您最近身体好吗？"}},
    {"key": "weight", "type": "number", "text": {"zh": "请输入您的体重，单位公斤。"}},
]
KEYS = [[1.0, "1"], [1.0, "72#"], [0.3, "1"]]
EXPECTED = {"feels_well": True, "weight": 72}
PATIENT = {"outcome": "answer", "ring_seconds": 0.2, "hangup_after": 600, "dtmf_on_prompt": KEYS}


class KeyToPrompt:
    """Pairs each prompt start with the last key pressed before it on the same channel."""

    def __init__(self) -> None:
        self.pending: dict[str, int] = {}
        self.samples_ms: list[float] = []
        self.keys = 0

    async def on_event(self, event) -> None:
        uuid, at = event.get("Unique-ID"), int(event.get("Event-Date-Timestamp") or 0)
        if event.name == "DTMF":
            self.keys += 1
            self.pending[uuid] = at
        elif event.name == "PLAYBACK_START" and uuid in self.pending:
            self.samples_ms.append((at - self.pending.pop(uuid)) / 1000)


async def warm(library: PromptLibrary) -> None:
    """Synthesize every prompt the bench flow plays, once."""
    keys = ["questionnaire_intro", "hint_yes_no", "hint_number", "you_entered", "no_input",
            "confirm_number", "thanks", "invalid", "goodbye_retry"]  # fmt: skip
    wanted = [texts.DEFAULTS[k]["zh"] for k in keys + list(texts.DIGIT_KEYS)]
    wanted += [q["text"]["zh"] for q in SCRIPT]
    await asyncio.gather(*(library.speak(text, "zh") for text in wanted))


def peak_overlap(campaign_id: int) -> int:
    spans = db.session.execute(
        select(IvrCall.started_at, IvrCall.ended_at).where(IvrCall.campaign_id == campaign_id)
    ).all()
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    live = peak = 0
    for _, step in edges:
        live += step
        peak = max(peak, live)
    return peak


def correct_sessions(campaign_id: int) -> int:
    rows = db.session.execute(
        select(IvrCall.outcome, Response.answers, Response.complete)
        .join(Response, Response.ivr_call_id == IvrCall.id)
        .where(IvrCall.campaign_id == campaign_id)
    ).all()
    return sum(
        1
        for outcome, answers, complete in rows
        if outcome is IvrOutcome.ANSWERED and complete and answers == EXPECTED
    )


def results_of(campaign_id: int) -> int:
    value = db.session.scalar(
        select(func.count(IvrCall.id)).where(IvrCall.campaign_id == campaign_id)
    )
    db.session.rollback()
    return value


def main() -> None:
    print(f"== IVR bench: {SESSIONS} concurrent questionnaire calls", flush=True)
    with bench_app() as app, tempfile.TemporaryDirectory(prefix="cc_bench_ivr_") as tmp:
        workdir = Path(tmp)
        jobs = JobQueue.from_url(REDIS_URL)
        jobs.connection.flushdb()
        app.config.update(
            REDIS_URL=REDIS_URL,
            RECORDINGS_DIR=str(workdir / "recordings"),
            RECORDINGS_STORE_DIR=str(workdir / "store"),
            IVR_SOCKET_ADDRESS="127.0.0.1:0",
        )
        app.extensions["callcenter.jobs"] = jobs
        asyncio.run(warm(PromptLibrary(store_from_config(app.config))))
        trunk = bench_dialer.make_trunk()
        campaign = bench_dialer.make_campaign("bench ivr", CampaignKind.IVR, trunk)
        campaign.question_script = SCRIPT
        db.session.add(IvrCampaignSettings(campaign_id=campaign.id, flow=IvrFlow.QUESTIONNAIRE))
        db.session.commit()
        bench_dialer.add_tasks(campaign, SESSIONS, first=0)
        probe = KeyToPrompt()
        try:
            with bench_dialer.simulator(workdir, PATIENT) as port:
                run(app, port, campaign, probe)
        finally:
            jobs.connection.flushdb()
            jobs.connection.close()


def run(app, port: int, campaign, probe: KeyToPrompt) -> None:
    # The IVR address goes into the originate (&socket): pick a free port first.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        app.config["IVR_SOCKET_ADDRESS"] = f"127.0.0.1:{sock.getsockname()[1]}"
    with bench_dialer.running_daemon(app, port, tick=0.05) as running:
        listener = EslClient(
            EslConfig(port=port, name="probe", events=("DTMF", "PLAYBACK_START")),
            on_event=probe.on_event,
        )
        running.loop.run(listener.start())
        running.loop.run(listener.wait_connected(10))
        started = time.perf_counter()
        campaign_id = campaign.id
        campaign.status = CampaignStatus.RUNNING
        db.session.commit()
        while results_of(campaign_id) < SESSIONS and time.perf_counter() - started < TIMEOUT:
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        running.loop.run(listener.stop())
    correct, peak = correct_sessions(campaign_id), peak_overlap(campaign_id)
    db.session.rollback()
    concurrent = min(correct, peak) if correct == SESSIONS else correct
    report(
        "IVR sessions at once, all correct",
        concurrent,
        "calls",
        at_least=200,
        detail=f"{correct}/{SESSIONS} correct, peak overlap {peak}, {elapsed:.0f} s",
    )
    samples = probe.samples_ms
    if samples:
        report(
            "IVR keypress -> next prompt p95",
            percentile(samples, 0.95),
            "ms",
            at_most=100,
            detail=f"p50 {median(samples):.1f} ms, max {max(samples):.1f} ms, "
            f"{len(samples)} prompts after {probe.keys} keys",
        )
    else:
        note("no keypress was followed by a prompt: latency not measured")


if __name__ == "__main__":
    main()
