"""Browser tests: a live server on 127.0.0.1 (port 0) on the test's database, driven by
Debian's Chromium through Playwright. One browser per session, a new context per test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests import support
from webapp.extensions import db as _db

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1366, "height": 768}
TIMEOUT_MS = 5000


def pytest_collection_modifyitems(items) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class LiveServer:
    def __init__(self, app):
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()

    def __call__(self, path: str = "/") -> str:
        return self.url + path


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport=VIEWPORT, locale="fa-IR")
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_console(message) -> None:
        # The CSP has no unsafe-inline: anything it refuses is a bug in our markup.
        if message.type == "error" and "Content Security Policy" in message.text:
            errors.append(message.text)

    page.on("console", on_console)
    page.js_errors = errors
    yield page
    assert not errors, f"JavaScript or CSP errors on the page: {errors}"


@pytest.fixture
def sign_in(page, live_server, make_admin):
    """``sign_in("operator")`` signs a new admin of that role in through the form."""

    def go(role: str = "operator"):
        admin = make_admin(role=role)
        page.goto(live_server("/login"))
        page.fill("#username", admin.username)
        page.fill("#password", support.PASSWORD)
        page.click("#main button[type=submit]")
        page.wait_for_url(live_server("/"))  # the overview
        page.goto(live_server("/models"))
        return admin

    return go


@pytest.fixture
def fresh_db():
    """Read what the live server committed: end this thread's transaction first."""

    def session():
        _db.session.rollback()
        _db.session.expire_all()
        return _db.session

    return session


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
