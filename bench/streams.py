"""Section 10: the dashboard while the gateway holds 200 streams. gunicorn with the
production settings (``webapp/gunicorn_conf.py``, 4 gthread workers × 64 threads) on
PostgreSQL + Redis, in front of the loopback provider (in this process, as in the tests);
200 chat streams of 48 chunks, 0.25 s apart (≈ 12 s each), whose clients arrive over
2 s, and meanwhile a signed-in viewer's browser loads ``/models`` every 0.25 s.

Reported: how long each dashboard page took while every stream was held and flowing
(median, p95, the slowest, and the first one apart), and each stream's time to its
first chunk. The browser is a process of its own, as a real one is
(``tests/gateway/browser_loop.py``): timed from this process, a page also waited for
the GIL that the 200 stream clients' event loop and the provider's 200 threads share
here. The goal (pages under 1 s) is a figure here, not an assertion in the test suite:
``tests/gateway/test_concurrency.py`` runs the same load and checks that every stream is
served at once and that the dashboard keeps answering.

    .venv/bin/python bench/streams.py     # or through bench/run.py (section 10)
"""

from __future__ import annotations

import asyncio
import statistics
import threading

import common as c  # puts the project on the path
import httpx

from tests.ai.fake_provider import FakeProvider, Reply
from tests.gateway import test_concurrency as load_test

SECTION = "10"
PAGE_GOAL_S = 1.0


def setup(provider_url: str) -> str:
    """Schema, the provider at the loopback server with a shared key and a live chat
    model, a service account (its token is returned) and a viewer who signs in."""
    from webapp.operations import admins

    def add_watcher() -> None:
        admins.create_admin("watcher", load_test.support.PASSWORD, "viewer", actor="bench")

    return c.seed_live_chat_model(
        {
            "slug": "openrouter",
            "name": "OpenRouter",
            "base_url": provider_url,
            "shared_api_enabled": True,
            "shared_api_key": "sk-bench-0123456789abcdef",
        },
        "platform-bot",
        "service",
        then=add_watcher,
    )


def main() -> None:
    provider = FakeProvider().start()
    pieces = [f" {i}" for i in range(load_test.CHUNKS)]
    gate = threading.Event()  # as in the test: each stream holds until all are open
    reply = Reply(chunks=pieces, chunk_delay=load_test.CHUNK_DELAY, hold=gate)
    provider.always("POST", "/chat/completions", reply)
    token = setup(provider.url)
    server = None
    try:
        server, base = c.start_configured_gunicorn(log_stem="streams")
        with httpx.Client(base_url=base, timeout=10) as browser:
            load_test.sign_in(browser, "watcher")
            cookies = dict(browser.cookies)
        streams, pages, peak = asyncio.run(load_test.load(base, token, cookies, provider, gate))
    finally:
        if server is not None:
            c.stop_gunicorn(server, timeout=30)
        provider.stop()
        c.pg_drop()
    c.emit(SECTION, rows_of(streams, pages, peak))


def rows_of(streams: list[dict], pages: list[float], peak: int) -> list[dict]:
    served = sum(1 for s in streams if s["status"] == 200 and s["done"])
    # ``first`` counts from the load's start; stream i set off i × RAMP / STREAMS later.
    firsts = [
        s["first"] - i * load_test.RAMP / load_test.STREAMS
        for i, s in enumerate(streams)
        if s["first"] is not None
    ]
    ordered = sorted(pages)
    slowest = max(pages)
    return [
        c.row(
            SECTION,
            f"GET /models while {load_test.STREAMS} gateway streams are held"
            " (gunicorn_conf × 4 workers)",
            f"median {c.fmt_time(statistics.median(pages))}, p95"
            f" {c.fmt_time(ordered[int(0.95 * (len(ordered) - 1))])},"
            f" slowest {c.fmt_time(slowest)}",
            f"goal: every page under {PAGE_GOAL_S:.0f} s",
            note=f"{len(pages)} pages while the streams flowed; the first"
            f" {c.fmt_time(pages[0])}; {served}/{len(streams)} streams complete,"
            f" {peak} open upstream at once",
            flag=slowest >= PAGE_GOAL_S or served < len(streams),
        ),
        c.row(
            SECTION,
            f"time to the first chunk, {load_test.STREAMS} streams arriving over"
            f" {load_test.RAMP:.0f} s",
            f"median {c.fmt_time(statistics.median(firsts))}, slowest {c.fmt_time(max(firsts))}",
            note="from each client's own start",
        ),
    ]


if __name__ == "__main__":
    main()
