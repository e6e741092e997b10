"""Run every benchmark section, each comparison in a process of its own, and print
the table (markdown); it is also written to bench/results/ (git-ignored).

    .venv/bin/python bench/run.py            # everything, a few minutes
    .venv/bin/python bench/run.py 1 3        # only sections 1 and 3
    BENCH_QUICK=1 .venv/bin/python bench/run.py   # fewer rounds, to try the code

Needs the local PostgreSQL (127.0.0.1:5432, user postgres; it creates and drops the
database ``mcp_bench``) and Redis (127.0.0.1:6379, db 14, keys ``mcp-bench:*``).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

import common as c  # noqa: E402

SECTIONS = [
    ("1", "get_active_model, SQLite", ["lookup.py", "sqlite"]),
    ("1", "get_active_model, PostgreSQL", ["lookup.py", "postgres"]),
    ("1", "get_active_model, Redis cache", ["lookup.py", "redis"]),
    ("2", "credential resolution", ["credentials.py"]),
    ("3", "models page", ["page.py"]),
    ("4", "radio switch vs Flask-Admin", ["toggle.py"]),
    ("5", "contention, gunicorn × 4 on PostgreSQL", ["contention.py"]),
    ("6", "staleness across workers", ["staleness.py"]),
    ("7", "gateway overhead vs the provider called directly", ["gateway.py"]),
    ("8", "HTTP hot path vs a bare Flask route, gunicorn_conf, wrk", ["hothttp.py"]),
    ("9", "growth: lookup, switch and PATCH at 10, 1,000, 100,000 models", ["growth.py"]),
    ("10", "the dashboard while the gateway holds 200 streams", ["streams.py"]),
]
TIMEOUT = 600


def machine() -> dict:
    info: dict = {"python": platform.python_version(), "nproc": os.cpu_count()}
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            info["cpu"] = line.split(":", 1)[1].strip()
            break
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    for line in meminfo.splitlines():
        if line.startswith("MemTotal"):
            info["memory"] = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    import sqlite3

    info["sqlite"] = sqlite3.sqlite_version
    try:
        import psycopg

        with psycopg.connect(c.PG_ADMIN_URL, connect_timeout=3) as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    except Exception as exc:
        info["postgresql"] = f"unreachable ({type(exc).__name__})"
    try:
        import redis

        client = redis.Redis.from_url(c.REDIS_URL, socket_connect_timeout=2)
        info["redis"] = client.info("server")["redis_version"]
        client.close()
    except Exception as exc:
        info["redis"] = f"unreachable ({type(exc).__name__})"
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("flask", "sqlalchemy", "psycopg", "gunicorn", "flask-admin"):
        try:
            info[dist] = version(dist)
        except PackageNotFoundError:
            info[dist] = "not installed"
    info["load_before"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return info


def run_section(script: list[str]) -> tuple[dict | None, str, float]:
    t0 = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, *script],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=os.environ | {"PYTHONWARNINGS": "ignore"},
        )
    except subprocess.TimeoutExpired:
        return None, f"timed out after {TIMEOUT} s", time.perf_counter() - t0
    elapsed = time.perf_counter() - t0
    lines = [line for line in done.stdout.strip().splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return None, " / ".join(tail)[-400:] or f"exit {done.returncode}", elapsed
    return json.loads(lines[-1]), "", elapsed


def cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(results: list[dict]) -> str:
    out = [
        "| § | measurement | figure (median) | limit / peer (median) | ratio | notes |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        for r in result["rows"]:
            ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}×"
            if r["flag"]:
                ratio = f"**{ratio or 'check'}** ⚠"
            out.append(
                f"| {r['section']} | {cell(r['what'])} | {cell(r['value'])} |"
                f" {cell(r['limit'])} | {ratio} | {cell(r['note'])} |"
            )
    return "\n".join(out)


def main() -> int:
    wanted = set(sys.argv[1:])
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    info = machine()
    results: list[dict] = []
    ran, failed = [], []
    for number, title, script in SECTIONS:
        if wanted and number not in wanted:
            continue
        print(f"… § {number} {title}", file=sys.stderr, flush=True)
        result, error, elapsed = run_section(script)
        if result is None:
            failed.append(f"§ {number} {title}: {error}")
            result = {
                "section": number,
                "rows": [c.row(number, f"{title}: did not run", "—", note=error, flag=True)],
            }
        else:
            ran.append(f"§ {number} {title} ({elapsed:.0f} s)")
        result["elapsed"] = elapsed
        results.append(result)
    info["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    total = time.perf_counter() - t0
    header = (
        f"Run {started:%Y-%m-%d %H:%M} UTC, {total:.0f} s"
        f"{' (BENCH_QUICK)' if c.QUICK else ''}. Machine: {info.get('nproc')} CPUs"
        f" ({info.get('cpu', '?')}), {info.get('memory', '?')}; Python {info['python']},"
        f" SQLite {info['sqlite']}, PostgreSQL {info['postgresql']}, Redis {info['redis']};"
        f" Flask {info['flask']}, SQLAlchemy {info['sqlalchemy']}, psycopg {info['psycopg']},"
        f" gunicorn {info['gunicorn']}, Flask-Admin {info['flask-admin']}."
        f" Load average before {info['load_before']}, after {info['load_after']}."
    )
    text = header + "\n\n" + table(results) + "\n"
    if failed:
        text += "\nDid not run:\n" + "\n".join(f"- {f}" for f in failed) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"{stamp}.md").write_text(text)
    (RESULTS / "latest.md").write_text(text)
    (RESULTS / f"{stamp}.json").write_text(
        json.dumps({"machine": info, "results": results, "seconds": total}, indent=1)
    )
    print(f"written: bench/results/{stamp}.md (and .json, latest.md)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
