"""Browser fixtures: the real app served over HTTP from a thread, and Debian's Chromium.

The app runs on the test's fresh database and Redis (``app`` fixture); ``switchboard`` adds the
softswitch simulator and the telephony daemon. Playwright drives ``/usr/bin/chromium``; no
browser is ever downloaded. Screenshots go to ``tests/e2e/test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests import factories
from tests.integration.telephony.conftest import Switchboard

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent / "test-artifacts"
VIEWPORT = {"width": 1366, "height": 768}


class LiveServer:
    """The Flask app on a free port, served by werkzeug's threaded server (like ``flask run``)."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    server = LiveServer(app)
    yield server
    server.close()


@pytest.fixture
def switchboard(app, redis_conn, tmp_path) -> Iterator[Switchboard]:
    app.config["RECORDINGS_DIR"] = str(tmp_path / "recordings")
    board = Switchboard(app)
    yield board
    board.close()


# Per module, not per session: Playwright's sync API keeps an event loop running on the main
# thread while it is open, and asyncio.run() in any later test would refuse to start.
@pytest.fixture(scope="module")
def browser():
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-system-deps.sh (apt chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


class Screens:
    """Saves screenshots named after the test, and prints where they went."""

    def __init__(self, test_name: str):
        self.prefix = re.sub(r"[^\w.-]+", "_", test_name)
        ARTIFACTS.mkdir(exist_ok=True)

    def save(self, page, name: str) -> Path:
        path = ARTIFACTS / f"{self.prefix}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path


@pytest.fixture
def screens(request) -> Screens:
    return Screens(request.node.name)


@pytest.fixture
def open_page(browser, live_server):
    """``open_page(locale)``: a fresh browser tab at 1366x768 in that language."""
    contexts = []

    def make(locale: str = "en-US"):
        context = browser.new_context(viewport=VIEWPORT, locale=locale)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()


def sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("form.card button[type=submit]")
    page.wait_for_url(f"{base_url}/")
