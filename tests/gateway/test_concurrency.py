"""The production configuration (gunicorn with ``webapp/gunicorn_conf.py``, 4 workers) holds
200 concurrent gateway streams while the dashboard keeps answering pages;
every worker sees a switch on its next call (with the shared cache); the usage rows of
every call are in the database after a clean shutdown.

On PostgreSQL + Redis when ``TEST_DATABASE_URL`` / ``TEST_CACHE_URL`` are set, else on a
SQLite file shared by the workers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import re
import signal
import subprocess
import threading
import time

import httpx
import pytest
from sqlalchemy import func, select

from tests import support
from tests.ai.fake_provider import Reply
from tests.gateway import browser_loop
from tests.servers import free_port
from tests.support import SHARED_KEY
from webapp.extensions import db
from webapp.models import UsageCall
from webapp.operations import admins

WORKERS = 4
STREAMS = 200
# Every stream sends its first piece, then the provider holds it until all 200 are open
# upstream (on a loaded machine the ramp has stretched past the 12 s a stream lasted, so
# the first ended before the last began); the rest then flows for ~12 s, the window in
# which the browser's pages are timed.
CHUNKS = 48
CHUNK_DELAY = 0.25
RAMP = 2.0  # seconds over which the 200 clients arrive (chunks not all in one instant)

pytestmark = [pytest.mark.slow] + (
    [pytest.mark.postgres, pytest.mark.redis] if os.environ.get("TEST_DATABASE_URL") else []
)


@pytest.fixture
def panel(app, make_provider, make_model, make_admin, fake_provider):
    provider = make_provider(
        "openrouter",
        base_url=fake_provider.url,
        shared_api_enabled=True,
        shared_api_key=SHARED_KEY,
    )
    gpt = make_model(provider, "gpt-4o", caps=["chat"], active=True, model_id="openai/gpt-4o")
    claude = make_model(provider, "claude", caps=["chat"], model_id="anthropic/claude")
    bot = make_admin("service", username="platform-bot")
    _, token = admins.create_token(bot, "load")
    boss = make_admin("superadmin", username="boss")
    _, boss_token = admins.create_token(boss, "switch")
    make_admin("viewer", username="watcher")
    ids = {"gpt": gpt.id, "claude": claude.id}
    db.session.remove()
    port = free_port()
    env = support.gunicorn_env(app, port, WORKERS, GUNICORN_GRACEFUL_TIMEOUT="10")
    server = support.start_gunicorn(["-c", "python:webapp.gunicorn_conf", "wsgi:app"], env)
    base = f"http://127.0.0.1:{port}"
    try:
        support.wait_until_ready(base, server, 30, lambda: support.exited_output(server))
        yield {
            "app": app,
            "base": base,
            "token": token,
            "boss_token": boss_token,
            "viewer": "watcher",
            "ids": ids,
            "server": server,
        }
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        try:
            out, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            out, _ = server.communicate()
        assert "Traceback" not in (out or ""), out


def sign_in(client: httpx.Client, username: str) -> None:
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/login", data={"username": username, "password": support.PASSWORD, "csrf_token": csrf}
    )
    assert response.status_code == 302


def _text(line: str) -> str:
    choices = json.loads(line[5:]).get("choices") or [{}]
    return choices[0].get("delta", {}).get("content") or ""


async def one_stream(
    client: httpx.AsyncClient, token: str, started: float, flowing, delay: float
) -> dict:
    await asyncio.sleep(delay)  # clients arrive over the ramp, not in one instant
    body = {"model": "openrouter", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    result = {"status": None, "first": None, "chunks": 0, "done": False}
    async with client.stream(
        "POST",
        "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        result["status"] = response.status_code
        async for line in response.aiter_lines():
            if line == "data: [DONE]":
                result["done"] = True
            elif line.startswith("data:") and _text(line):
                if result["first"] is None:
                    result["first"] = time.monotonic() - started
                    flowing.arrived()
                result["chunks"] += 1
    result["end"] = time.monotonic() - started
    return result


class Flowing(asyncio.Event):
    """Set once every stream has delivered its first chunk to its client: from then on
    all of them are being held. (The provider sees all 200 open earlier, while it is
    still answering their headers: that burst is the ramp-up, not the holding.)"""

    def __init__(self, expected: int) -> None:
        super().__init__()
        self.count, self.expected = 0, expected

    def arrived(self) -> None:
        self.count += 1
        if self.count >= self.expected:
            self.set()


async def open_requests_peak(
    fake_provider, held: asyncio.Event, until: asyncio.Event, gate: threading.Event
) -> int:
    """The provider's peak of open requests; ``gate`` (the streams' hold) opens when all
    of them are open at once."""
    peak = 0
    while not until.is_set():
        peak = max(peak, len(fake_provider.open_requests()))
        if peak >= STREAMS:
            held.set()
            gate.set()
        await asyncio.sleep(0.05)
    held.set()
    return peak


async def load(
    base: str, token: str, cookies: dict, fake_provider, gate: threading.Event
) -> tuple[list, list, int]:
    """200 streams arriving over the ramp, the provider's peak of open requests, and the
    page timings of a browser (``browser_loop``, a process of its own, started and ready
    before the first stream: its start would otherwise slow the ramp) while all of them
    flow."""
    spawn = multiprocessing.get_context("spawn")
    ready, flowing_now, done, out = spawn.Event(), spawn.Event(), spawn.Event(), spawn.Queue()
    viewer = spawn.Process(
        target=browser_loop.browser, args=(base, cookies, ready, flowing_now, done, out)
    )
    viewer.start()
    try:
        assert await asyncio.to_thread(ready.wait, 60), "the browser process did not start"
        held, finished, flowing = asyncio.Event(), asyncio.Event(), Flowing(STREAMS)
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
            started = time.monotonic()
            peak = asyncio.create_task(open_requests_peak(fake_provider, held, finished, gate))

            async def tell_browser() -> None:
                await flowing.wait()
                flowing_now.set()

            told = asyncio.create_task(tell_browser())
            try:
                streams = await asyncio.gather(
                    *(
                        one_stream(client, token, started, flowing, i * RAMP / STREAMS)
                        for i in range(STREAMS)
                    )
                )
            finally:
                finished.set()
                told.cancel()
            peaked = await peak
    finally:
        done.set()
        flowing_now.set()  # however the streams went, the browser stops
        pages = await asyncio.to_thread(out.get, True, 60)
        viewer.join(60)
    assert viewer.exitcode == 0, "the browser's page loads failed"
    return streams, pages, peaked


def test_200_concurrent_streams_while_the_dashboard_answers(panel, fake_provider):
    pieces = [f" {i}" for i in range(CHUNKS)]
    gate = threading.Event()
    reply = Reply(chunks=pieces, chunk_delay=CHUNK_DELAY, hold=gate)
    fake_provider.always("POST", "/chat/completions", reply)
    with httpx.Client(base_url=panel["base"], timeout=10) as browser:
        sign_in(browser, panel["viewer"])
        cookies = dict(browser.cookies)
        # A program uses its token all along (its first use is recorded once, in a write).
        token = {"Authorization": f"Bearer {panel['token']}"}
        assert browser.get("/v1/models", headers=token).status_code == 200

    # In a thread of its own: the browser tests' Playwright keeps an event loop on this one.
    with concurrent.futures.ThreadPoolExecutor(1) as runner:
        streams, pages, peak = runner.submit(
            asyncio.run, load(panel["base"], panel["token"], cookies, fake_provider, gate)
        ).result()

    assert {s["status"] for s in streams} == {200}
    assert all(s["done"] and s["chunks"] == CHUNKS for s in streams), [
        (s["chunks"], s["done"]) for s in streams if not s["done"] or s["chunks"] != CHUNKS
    ][:5]
    assert peak == STREAMS  # all of them were open upstream at the same time
    # Every stream was served at once: none waited for another one to end.
    assert max(s["first"] for s in streams) < min(s["end"] for s in streams)
    # The dashboard kept answering while every stream was held: a page loop stuck behind
    # the streams would have got one page at most before they ended. (How fast the pages
    # were is a benchmark's business, not an assertion: the suite runs in parallel.)
    assert len(pages) >= 5, pages

    if panel["app"].config["CACHE_URL"]:  # the shared cache reaches every worker
        switched = httpx.patch(
            f"{panel['base']}/api/v1/ai-models/{panel['ids']['claude']}/",
            json={"is_active": True},
            headers={"Authorization": f"Bearer {panel['boss_token']}"},
        )
        assert switched.status_code == 200
        fake_provider.reset()
        for _ in range(WORKERS * 4):
            answer = httpx.post(
                f"{panel['base']}/v1/chat/completions",
                json={"model": "openrouter", "messages": []},
                headers={"Authorization": f"Bearer {panel['token']}", "Connection": "close"},
            )
            assert answer.headers["X-Panel-Model"] == "anthropic/claude"

    # A clean shutdown writes what the workers still buffered.
    panel["server"].send_signal(signal.SIGTERM)
    panel["server"].wait(timeout=30)
    with panel["app"].app_context():
        db.session.remove()
        counted = db.session.scalar(
            select(func.count(UsageCall.id)).where(UsageCall.first_chunk_ms.is_not(None))
        )
        db.session.remove()
    assert counted == STREAMS
