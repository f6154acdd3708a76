"""The agent desk in Chromium: a campaign call pops the patient, the agent saves the follow-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import (
    CallAttempt,
    FollowUpLog,
    FollowUpTask,
    Observation,
    ObservationSource,
    Recording,
)
from callcenter.services import campaign_control, indicators
from callcenter.telephony.notifier import CallNotifier
from tests.e2e.conftest import sign_in
from tests.e2e.world import bridged_call, campaign_for, patient_with_record
from tests.integration.telephony.conftest import ALWAYS, PatientScript, make_trunk, wait_for
from tests.unit.test_translations import english_leftovers

pytestmark = pytest.mark.e2e

SPEECH = str(
    Path(__file__).resolve().parents[1] / "data/freeswitch-wire/recordings/mono_8k_followup.wav"
)
POP_BUDGET_MS = 1000


def pop_timing(page, call_id: str) -> dict:
    return page.evaluate("(id) => window.ccDesk.pops[id]", call_id)


def wall_ms(clock, simulated_ms: float) -> float:
    """The wall-clock time of a simulator timestamp (its clock runs 1/scale times faster)."""
    wall0_ms = clock._wall0 * 1000
    return wall0_ms + (simulated_ms - wall0_ms) * clock.scale


def test_a_campaign_call_pops_the_patient_and_the_log_is_saved(
    app, users, switchboard, live_server, open_page, screens
):
    switchboard.start_daemon()
    trunk = make_trunk()
    campaign = campaign_for(
        [users.agent], trunk.id, calling_windows=ALWAYS, wrap_up_seconds=0, name="BP follow-up"
    )
    patient = patient_with_record("陈建国", "+8613900139001", tag_names=("高血压", "糖尿病"))
    # The patient answers, talks, and hangs up after 6 s (60 simulated seconds at scale 0.1).
    switchboard.sim.script(
        "+8613900139001", PatientScript(ring_seconds=0.5, speech_wav=SPEECH, hangup_after=60)
    )
    db.session.add(FollowUpTask(campaign_id=campaign.id, patient_id=patient.id))
    db.session.commit()

    page = open_page("en-US")
    sign_in(page, live_server.url, "agent")
    page.goto(f"{live_server.url}/desk")
    page.wait_for_function("window.ccDesk && window.ccDesk.connected")
    page.click("#presence button:has-text('Ready')")
    page.wait_for_selector("#presence [data-state=ready]")

    campaign_control.control(db.session, users.supervisor, campaign.id, "start")
    db.session.commit()

    pop = page.wait_for_selector(".pop[data-call-id]", timeout=30_000)
    call_id = pop.get_attribute("data-call-id")
    timing = pop_timing(page, call_id)
    latency_ms = timing["shownAt"] - wall_ms(switchboard.sim.clock, timing["switchAtMs"])
    print(f"screen pop: {latency_ms:.0f} ms from the simulator's CHANNEL_BRIDGE to the DOM")
    assert 0 < latency_ms < POP_BUDGET_MS
    text = page.inner_text(".pop")
    assert "陈建国" in text and "高血压" in text and "糖尿病" in text
    assert "147.5 mmHg" in page.inner_text(".pop tr[data-code='8480-6']")
    page.wait_for_function("document.querySelectorAll('.pop canvas[data-trend]').length === 5")
    # The presence panel follows a moment after the pop (refreshed once events settle).
    page.wait_for_function(
        "() => document.querySelector('#presence [data-state]').innerText.includes('In call')",
        timeout=3000,
    )
    assert page.inner_text("#presence [data-state]").count("In call") == 1
    screens.save(page, "desk-screen-pop")

    page.fill("input[name=q_bp]", "135/85")
    page.check("input[name=q_takes_medicine][value=yes]")
    page.select_option("select[name=disposition]", "reached")
    page.fill("textarea[name=notes]", "Takes amlodipine daily; feels well.")
    page.click(".log-form button[type=submit]")
    page.wait_for_selector(".log-saved")

    db.session.expire_all()
    log = db.session.scalar(select(FollowUpLog).where(FollowUpLog.call_attempt_id == call_id))
    assert log is not None and log.patient_id == patient.id
    from_call = db.session.execute(
        select(Observation.code, Observation.value).where(
            Observation.patient_id == patient.id, Observation.source == ObservationSource.CALL
        )
    ).all()
    assert sorted(from_call) == sorted([(indicators.SYSTOLIC, 135), (indicators.DIASTOLIC, 85)])

    wait_for(
        lambda: db.session.scalar(select(Recording.id).where(Recording.call_attempt_id == call_id)),
        timeout=30,
        what="the call's recording",
    )
    page.goto(f"{live_server.url}/patients/{patient.id}")
    row = page.wait_for_selector(f"tr[data-log-id='{log.id}']")
    assert "Takes amlodipine daily" in row.inner_text()
    assert row.query_selector(".recording") is not None  # linked through the call
    screens.save(page, "patient-with-log")
    assert page.errors == []
    assert db.session.get(CallAttempt, call_id).agent_id == users.agent.id


@pytest.fixture
def popped_desk(app, users, redis_conn, live_server, open_page):
    """An agent's desk in the given language with a pop pushed through the real event stream."""

    def make(locale: str, patient_name: str):
        users.agent.display_name = "王坐席"
        db.session.commit()
        campaign = campaign_for([users.agent])
        patient = patient_with_record(patient_name, "+8613900139002")
        call = bridged_call(users.agent, patient, campaign)
        page = open_page(locale)
        page.dialogs = []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        sign_in(page, live_server.url, "agent")
        page.goto(f"{live_server.url}/desk")
        page.wait_for_function("window.ccDesk && window.ccDesk.connected")
        CallNotifier(redis_conn).publish(
            "call.bridged", agent_id=users.agent.id, call_id=call.id, screen_pop=True
        )
        page.wait_for_selector(f".pop[data-call-id='{call.id}']")
        return page, patient

    return make


def test_the_chinese_desk_has_no_english_left(popped_desk, live_server, screens):
    page, patient = popped_desk("zh-CN", "周淑芬")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert english_leftovers(page.content()) == []
    screens.save(page, "desk-zh")
    for path in ("/", "/patients", f"/patients/{patient.id}"):
        page.goto(f"{live_server.url}{path}")
        assert english_leftovers(page.content()) == [], path
    page.click("form.language button[value=en]")
    page.wait_for_selector("html[lang=en]")
    assert "Patients" in page.inner_text("nav.menu")


def test_a_patient_named_like_a_script_is_shown_as_text(popped_desk, live_server, screens):
    page, patient = popped_desk("en-US", "<script>alert(1)</script>")
    assert page.inner_text(".pop .patient-name") == "<script>alert(1)</script>"
    page.goto(f"{live_server.url}/patients/{patient.id}")
    assert page.inner_text("h1.patient-name") == "<script>alert(1)</script>"
    page.goto(f"{live_server.url}/patients?q=%3Cscript")
    assert "<script>alert(1)</script>" in page.inner_text("table")
    assert page.dialogs == []
    screens.save(page, "escaped-name")
