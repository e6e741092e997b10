"""Browser tests: the live server on the test's database, driven by Debian's Chromium
through Playwright. One browser per session, a new context per test (registered for the
suite in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

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
# Generous: a passing test never waits for it, and CI runs four workers beside one browser
# on two cores, where a page that loads in 0.3 s alone once took over 5 s to fire "load".
TIMEOUT_MS = 20_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


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
