"""A signed-in viewer's page loads, in a process of its own (``multiprocessing``'s spawn
imports this module in the child, so it imports nothing heavy): from the process that
runs the 200 stream clients' event loop and the provider's threads, a page would wait
for that process's GIL as much as for the server."""

from __future__ import annotations

import time

import httpx


def browser(base: str, cookies: dict, ready, flowing, done, out) -> None:
    """Say ``ready``, then load ``/models`` every 0.25 s from ``flowing`` until ``done``;
    put the timings on ``out``."""
    timings: list[float] = []
    ready.set()
    flowing.wait()
    try:
        with httpx.Client(base_url=base, cookies=cookies, timeout=30) as client:
            while not done.is_set():
                start = time.monotonic()
                response = client.get("/models")
                timings.append(time.monotonic() - start)
                assert response.status_code == 200, response.status_code
                time.sleep(0.25)
    finally:
        out.put(timings)
