"""Section 8: the HTTP hot path. The panel under gunicorn with the project's
configuration (``webapp/gunicorn_conf.py``: 4 gthread workers, keep-alive off) on
PostgreSQL + Redis, against a bare Flask JSON route (``bare_app.py``) served by the
same gunicorn configuration, both loaded by ``wrk -c16`` in one run:

- ``GET /api/v1/ai-models/active_model/?provider=bench&capability=chat`` with a
  Bearer token (a viewer's), and
- ``GET /healthz``,

each against ``GET /bare``. Rounds of ``ROUND_SECONDS`` per path, the order rotating
every round; the figures are medians of requests per second, the ratios medians of the
per-round ratios (each path against the bare route of the same round).

The load generator is ``wrk`` (C, event loop, 2 threads): it is not the bottleneck, the
Python workers are. Install it with ``apt-get install -y wrk`` (Debian/Ubuntu) or
``brew install wrk``; without it this section stops with that message.

(Named ``hothttp`` rather than ``http``: a ``bench/http.py`` would shadow the standard
library's ``http`` package for every script run from this folder.)

    .venv/bin/python bench/hothttp.py     # or through bench/run.py (section 8)
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import urllib.request
from pathlib import Path

import common as c

SECTION = "8"
ROUNDS = 3 if c.QUICK else 7
ROUND_SECONDS = 2 if c.QUICK else 4
CONNECTIONS = 16
ACTIVE = "/api/v1/ai-models/active_model/?provider=bench&capability=chat"
PATHS = {"bare": "/bare", "healthz": "/healthz", "active_model": ACTIVE}
GOALS = {"healthz": 0.8, "active_model": 0.5}


def need_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit(
            "bench/hothttp.py needs wrk, the HTTP load generator: "
            "apt-get install -y wrk (Debian/Ubuntu) or brew install wrk"
        )
    return wrk


def setup() -> str:
    """Schema, one provider with an active chat model, a viewer with a token."""
    return c.seed_live_chat_model(
        {"slug": "bench", "name": "Bench", "base_url": "http://127.0.0.1:9/v1"}, "reader", "viewer"
    )


def start(app_spec: str, extra: list[str]) -> tuple[subprocess.Popen, str]:
    """gunicorn with the project's configuration file, 4 workers, on a free port."""
    probe = "/bare" if app_spec.startswith("bare_app") else "/healthz"
    return c.start_configured_gunicorn(app_spec, extra, log_stem="hothttp", probe=probe)


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(master: int) -> float:
    """CPU time of a gunicorn master and its workers, live and exited (a worker that
    ``max_requests`` recycled is counted in the master's ``cutime``/``cstime``)."""
    fields = Path(f"/proc/{master}/stat").read_text().rsplit(")", 1)[1].split()
    total = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            rest = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(rest[1]) == master:
            total += int(rest[11]) + int(rest[12])
    return total / TICK


RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
BAD = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
ERRORS = re.compile(r"Socket errors:.*")
TOTAL = re.compile(r"(\d+) requests in")


def load(wrk: str, url: str, headers: dict[str, str], seconds: float, master: int) -> dict:
    cpu = cpu_seconds(master)
    cmd = [wrk, "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(master) - cpu
    bad = BAD.search(out)
    errors = ERRORS.search(out)
    requests = int(TOTAL.search(out).group(1))
    return {
        "rate": float(RATE.search(out).group(1)),
        "requests": requests,
        "cpu_per_request": cpu / max(requests, 1),
        "non2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(0) if errors else "",
    }


def main() -> None:
    wrk = need_wrk()
    token = setup()
    servers = []
    try:
        panel, panel_base = start("wsgi:app", [])
        servers.append(panel)
        bare, bare_base = start("bare_app:app", ["--pythonpath", "bench"])
        servers.append(bare)
        bases = {"bare": bare_base, "healthz": panel_base, "active_model": panel_base}
        auth = {"Authorization": f"Bearer {token}"}
        headers = {"bare": {}, "healthz": {}, "active_model": auth}
        masters = {"bare": bare.pid, "healthz": panel.pid, "active_model": panel.pid}
        # the answer must be the real one before any figure counts
        request = urllib.request.Request(panel_base + ACTIVE, headers=auth)
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert resp.status == 200 and b"gpt-4o" in resp.read()
        names = list(PATHS)
        for name in names:  # warm every worker
            load(wrk, bases[name] + PATHS[name], headers[name], 1, masters[name])
        runs: dict[str, list[dict]] = {name: [] for name in names}
        for r in range(ROUNDS):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                url = bases[name] + PATHS[name]
                runs[name].append(load(wrk, url, headers[name], ROUND_SECONDS, masters[name]))
        rows = rows_of(runs)
    finally:
        for proc in servers:
            c.stop_gunicorn(proc, timeout=30)
        c.pg_drop()
    c.emit(SECTION, rows)


def rows_of(runs: dict[str, list[dict]]) -> list[dict]:
    rate = {name: [x["rate"] for x in values] for name, values in runs.items()}
    bare = statistics.median(rate["bare"])
    cpu = {name: [x["cpu_per_request"] for x in values] for name, values in runs.items()}
    rows = []
    for name, what in (
        ("active_model", f"GET {ACTIVE} with a token"),
        ("healthz", "GET /healthz"),
    ):
        ratio = statistics.median(a / b for a, b in zip(rate[name], rate["bare"], strict=True))
        non2xx = sum(x["non2xx"] for x in runs[name])
        errors = {x["socket_errors"] for x in runs[name] if x["socket_errors"]}
        cpu_ratio = statistics.median(b / a for a, b in zip(cpu[name], cpu["bare"], strict=True))
        rows.append(
            c.row(
                SECTION,
                f"{what}, wrk -c{CONNECTIONS}, gunicorn_conf × 4 workers",
                f"{statistics.median(rate[name]):.0f} req/s",
                f"bare Flask JSON route, same gunicorn setup: {bare:.0f} req/s",
                ratio_value=ratio,
                note=f"goal ≥ {GOALS[name]:.0%} of bare; {ROUNDS} rounds × {ROUND_SECONDS} s,"
                f" interleaved; server CPU per request {statistics.median(cpu[name]) * 1e6:.0f} µs"
                f" vs bare {statistics.median(cpu['bare']) * 1e6:.0f} µs (bare/ours"
                f" {cpu_ratio:.2f}); {non2xx} non-2xx answers"
                + (f"; {'; '.join(sorted(errors))}" if errors else ""),
                flag=ratio < GOALS[name] or non2xx > 0,
                rounds=rate[name],
                bare_rounds=rate["bare"],
                cpu_per_request=cpu[name],
                bare_cpu_per_request=cpu["bare"],
            )
        )
    return rows


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
