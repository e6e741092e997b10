"""Section 7: what the gateway adds. gunicorn with the production settings
(``webapp/gunicorn_conf.py``: 4 gthread workers × 64 threads) on PostgreSQL + Redis, in
front of the loopback provider (``tests/ai/fake_provider.py``'s answers, served by a
gunicorn of its own that keeps connections alive, as real providers do), compared in one
run with the same provider called directly:

- a plain chat completion, one client, the two paths interleaved call by call: latency at
  p50 and p99 each way, and the difference (the gateway's added latency);
- a streamed chat: time to the first chunk, each way, interleaved;
- throughput at 16 clients (processes, so the client is not the bottleneck), each way in
  turn, completed calls per second.

The client opens a new connection for every call on both paths (it asks the provider
to close each one, and the gateway's gunicorn runs with keep-alive off), so the client's
side is the same each way. The gateway's own calls to the provider go through its pool of
kept-alive connections, as they do in production against a provider that keeps them
(OpenAI's and OpenRouter's do). Werkzeug's server, which the tests use, closes every
connection: in front of it each gateway call also paid a new connection upstream.

    .venv/bin/python bench/gateway.py     # or through bench/run.py (section 7)
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import statistics
import subprocess
import sys
import time

import common as c

SECTION = "7"
PLAIN_CALLS = 150 if c.QUICK else 600
STREAM_CALLS = 100 if c.QUICK else 300
THROUGHPUT_SECONDS = 3 if c.QUICK else 8
CLIENTS = 16
BODY = {"model": "openrouter", "messages": [{"role": "user", "content": "hi"}]}


# The client's side of every call: a new connection each way (see the module).
CLOSE = {"Connection": "close"}


def start_provider() -> tuple[subprocess.Popen, str]:
    port = c.free_port()
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    proc = subprocess.Popen(
        [
            gunicorn,
            "--worker-class=gthread",
            "--workers=1",
            "--threads=64",
            "--keep-alive=60",
            f"--bind=127.0.0.1:{port}",
            "tests.ai.fake_provider:app()",
        ],
        cwd=c.ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    wait_for(url + "/models")
    return proc, url


def wait_for(url: str) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def setup(provider_url: str) -> str:
    """Schema, the provider at the loopback server with a shared key, a live chat model, a
    service account; returns its token."""
    return c.seed_live_chat_model(
        {
            "slug": "openrouter",
            "name": "OpenRouter",
            "base_url": provider_url,
            "shared_api_enabled": True,
            "shared_api_key": "sk-bench-shared-0123456789",
        },
        "platform-bot",
        "service",
    )


def start_gateway() -> tuple[subprocess.Popen, str]:
    return c.start_configured_gunicorn(log_stem="gateway")


def plain_call(client, url: str, headers: dict) -> float:
    t0 = time.perf_counter()
    response = client.post(url + "/chat/completions", json=BODY, headers=headers | CLOSE)
    elapsed = time.perf_counter() - t0
    assert response.status_code == 200, response.text[:200]
    return elapsed


def first_chunk(client, url: str, headers: dict) -> float:
    t0 = time.perf_counter()
    with client.stream(
        "POST", url + "/chat/completions", json=BODY | {"stream": True}, headers=headers | CLOSE
    ) as response:
        lines = response.iter_lines()
        for line in lines:
            if line.startswith("data:") and '"content": "' in line and '"content": ""' not in line:
                elapsed = time.perf_counter() - t0
                break
        for _ in lines:  # read the rest: the call ends as a client's would
            pass
    return elapsed


def paired(fn, direct: tuple[str, dict], gateway: tuple[str, dict], n: int):
    """``n`` calls each way, alternating (which goes first alternates too)."""
    import httpx

    times = {"direct": [], "gateway": []}
    with httpx.Client(timeout=30) as client:
        for side in ("direct", "gateway"):  # warm both
            for _ in range(20):
                fn(client, *(direct if side == "direct" else gateway))
        for i in range(n):
            order = ("direct", "gateway") if i % 2 == 0 else ("gateway", "direct")
            for side in order:
                times[side].append(fn(client, *(direct if side == "direct" else gateway)))
    return times


def _worker(args) -> int:
    url, headers, seconds = args
    import httpx

    done = 0
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=30) as client:
        while time.monotonic() < deadline:
            plain_call(client, url, headers)
            done += 1
    return done


def throughput(url: str, headers: dict, seconds: float) -> float:
    with concurrent.futures.ProcessPoolExecutor(CLIENTS) as pool:
        counts = list(pool.map(_worker, [(url, headers, seconds)] * CLIENTS))
    return sum(counts) / seconds


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def main() -> None:
    provider, provider_url = start_provider()
    gateway = None
    try:
        token = setup(provider_url)
        gateway, base = start_gateway()
        direct = (provider_url, {"Authorization": "Bearer sk-bench-shared-0123456789"})
        via = (base + "/v1", {"Authorization": f"Bearer {token}"})

        plain = paired(plain_call, direct, via, PLAIN_CALLS)
        streamed = paired(first_chunk, direct, via, STREAM_CALLS)
        rates = {}
        for side, (url, headers) in (("direct", direct), ("gateway", via)):
            rates[side] = throughput(url, headers, THROUGHPUT_SECONDS)

        p = {side: {q: c.percentile(values, q) for q in (50, 99)} for side, values in plain.items()}
        added = [g - d for g, d in zip(plain["gateway"], plain["direct"], strict=True)]
        ttfc = {side: statistics.median(values) for side, values in streamed.items()}
        rows = [
            c.row(
                SECTION,
                "plain chat, added latency p50 (gateway p50 − direct p50)",
                ms(p["gateway"][50] - p["direct"][50]),
                f"direct p50 {ms(p['direct'][50])}, gateway p50 {ms(p['gateway'][50])}",
                note=f"goal ≤ 2 ms; {PLAIN_CALLS} calls each way, interleaved",
                flag=p["gateway"][50] - p["direct"][50] > 0.002,
                direct=p["direct"],
                gateway=p["gateway"],
            ),
            c.row(
                SECTION,
                "plain chat, added latency p99 (gateway p99 − direct p99)",
                ms(p["gateway"][99] - p["direct"][99]),
                f"direct p99 {ms(p['direct'][99])}, gateway p99 {ms(p['gateway'][99])}",
                note=f"paired differences: p50 {ms(c.percentile(added, 50))}, "
                f"p99 {ms(c.percentile(added, 99))}",
            ),
            c.row(
                SECTION,
                "streamed chat, time to first chunk (median)",
                ms(ttfc["gateway"]),
                f"direct {ms(ttfc['direct'])}",
                note=f"goal within 2 ms of direct: +{ms(ttfc['gateway'] - ttfc['direct'])}",
                flag=ttfc["gateway"] - ttfc["direct"] > 0.002,
            ),
            c.row(
                SECTION,
                f"throughput at {CLIENTS} clients (plain chat)",
                f"{rates['gateway']:.0f} calls/s",
                f"direct {rates['direct']:.0f} calls/s",
                ratio_value=rates["gateway"] / rates["direct"],
                note="goal ≥ 50 % of direct; clients, provider and gateway share the machine",
                flag=rates["gateway"] < rates["direct"] / 2,
            ),
        ]
        c.emit(SECTION, rows)
    finally:
        if gateway is not None:
            c.stop_gunicorn(gateway, timeout=30)
        provider.send_signal(signal.SIGTERM)
        provider.wait(timeout=10)
        c.pg_drop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
