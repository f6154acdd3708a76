"""The agent desk: server time with 100,000 patients and 10 years of indicators, and the screen
pop end to end (simulator bridge -> browser DOM) with 20 agents connected.

Server time: ``GET /desk`` (presence, the queue) and ``GET /desk/pop/<call>`` (the record with ten
years of trends, audited) through the app in-process, on PostgreSQL. Every patient has ten years of
yearly indicators (six series: 6 million rows) and the agent's campaign patients quarterly ones.

Screen pop: gunicorn (gthread) serves the app, the softswitch simulator and the telephony daemon
place a campaign's calls, 20 agents each have the desk open in Chromium; each pop's time is from
the simulator's CHANNEL_BRIDGE (its event timestamp) to the DOM update in that agent's tab.
Run with ``python -m bench.bench_desk`` (``BENCH_DESK_PART=server|pop`` runs one part).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time

from sqlalchemy import select, text

from bench.bench_search import PATIENTS, create_people, load_patients
from bench.common import bench_app, median, note, percentile, report
from callcenter.extensions import db
from callcenter.models import (
    CallAttempt,
    CallStatus,
    CampaignAgent,
    FollowUpTask,
    User,
    utcnow,
)
from callcenter.services import accounts, indicators

GOAL_SERVER_P95_MS = 100.0
GOAL_POP_P95_MS = 300.0
REQUESTS = int(os.environ.get("BENCH_DESK_REQUESTS", "200"))
PASSWORD = "bench-password"
SERIES = (  # code, typical value, spread
    (indicators.SYSTOLIC, 135, 25),
    (indicators.DIASTOLIC, 85, 15),
    (indicators.FASTING_GLUCOSE, 6.0, 2.0),
    (indicators.HBA1C, 6.0, 1.5),
    (indicators.BMI, 24, 5),
    (indicators.TOTAL_CHOLESTEROL, 5.0, 1.5),
)


def load_indicators(campaign_patient_ids: list[int]) -> int:
    """Yearly values for everyone, quarterly for the campaign's patients; in SQL, it is quick."""
    values = ", ".join(
        f"('{code}', '{indicators.CATALOG[code].name_en}', {typical}, {spread}, "
        f"'{indicators.CATALOG[code].unit}', "
        f"{indicators.CATALOG[code].ref_low or 'NULL'}, {indicators.CATALOG[code].ref_high})"
        for code, typical, spread in SERIES
    )
    insert = f"""
        INSERT INTO observations
            (patient_id, code, name, value, unit, ref_low, ref_high, taken_at, source, created_at)
        SELECT p.id, s.code, s.name,
               round((s.typical + (random() - 0.5) * s.spread)::numeric, 1), s.unit, s.lo, s.hi,
               now() - make_interval(days => step * CAST(:days_apart AS int)), 'import', now()
        FROM patients p
        CROSS JOIN (VALUES {values}) AS s(code, name, typical, spread, unit, lo, hi)
        CROSS JOIN generate_series(CAST(:first AS int), CAST(:last AS int)) AS step
        WHERE {{where}}
    """
    started = time.perf_counter()
    yearly = {"days_apart": 365, "first": 0, "last": 9}
    db.session.execute(text(insert.format(where="true")), yearly)
    db.session.execute(
        text(insert.format(where="p.id = ANY(:ids)")),
        {"days_apart": 91, "first": 1, "last": 39, "ids": campaign_patient_ids},
    )  # the quarters in between (steps of 91 days never land on the yearly days)
    db.session.commit()
    count = db.session.scalar(text("SELECT count(*) FROM observations"))
    note(f"loaded {count:,} observations in {time.perf_counter() - started:.1f} s")
    return count


def bridged_calls(agent: User, patient_ids: list[int], count: int) -> list[str]:
    rng = random.Random(5)
    calls = []
    for patient_id in rng.sample(patient_ids, count):
        task_id = db.session.scalar(
            select(FollowUpTask.id).where(FollowUpTask.patient_id == patient_id).limit(1)
        )
        calls.append(
            CallAttempt(
                task_id=task_id,
                patient_id=patient_id,
                agent_id=agent.id,
                number="+8613800000000",
                status=CallStatus.BRIDGED,
                answered_at=utcnow(),
                bridged_at=utcnow(),
            )
        )
    db.session.add_all(calls)
    db.session.commit()
    return [c.id for c in calls]


def timed_gets(client, paths: list[str]) -> list[float]:
    samples = []
    for path in paths:
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code}")
    return samples


def server_time() -> None:
    print(f"== desk server time: {PATIENTS:,} patients, 10 years of indicators", flush=True)
    with bench_app() as app:
        load_patients()
        _supervisor, agent = create_people()
        agent.password_hash = accounts.hash_password(PASSWORD)
        db.session.commit()
        campaign_id = db.session.scalar(
            select(CampaignAgent.campaign_id).where(CampaignAgent.user_id == agent.id)
        )
        mine = list(
            db.session.scalars(
                select(FollowUpTask.patient_id).where(FollowUpTask.campaign_id == campaign_id)
            )
        )
        load_indicators(mine)
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        call_ids = bridged_calls(agent, mine, REQUESTS)
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
        client.post("/login", data={"username": agent.username, "password": PASSWORD,
                                    "csrf_token": token})  # fmt: skip
        timed_gets(client, ["/desk"] * 10 + [f"/desk/pop/{c}" for c in call_ids[:10]])  # warm up
        desk = timed_gets(client, ["/desk"] * REQUESTS)
        pops = timed_gets(client, [f"/desk/pop/{c}" for c in call_ids])
        report("desk.page.p95", percentile(desk, 0.95), "ms", at_most=GOAL_SERVER_P95_MS,
               detail=f"p50 {median(desk):.1f} ms, {REQUESTS} requests")  # fmt: skip
        report("desk.pop_fragment.p95", percentile(pops, 0.95), "ms", at_most=GOAL_SERVER_P95_MS,
               detail=f"p50 {median(pops):.1f} ms, {len(pops)} different patients")  # fmt: skip


def main() -> None:
    part = os.environ.get("BENCH_DESK_PART", "all")
    if part in ("all", "server"):
        server_time()
    if part in ("all", "pop"):
        # In a fresh interpreter: the daemon measured there must not share this process's
        # memory (a million objects from loading the server part slow every GC pause).
        subprocess.run([sys.executable, "-m", "bench.bench_desk_pop"], check=True)


if __name__ == "__main__":
    main()
