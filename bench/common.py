"""Shared helpers for the benchmark sections: apps on a given database, a large
catalogue loaded in bulk, interleaved timing, query counting, result rows.

Every section runs in its own process (``bench/run.py`` starts them) and prints
one JSON document on its last line of stdout: ``{"section": …, "rows": […]}``.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import socket
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = os.environ.get("BENCH_PG_DB", "mcp_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
CACHE_PREFIX = "mcp-bench:"
FERNET_KEYS = (
    "Q2L6hSfLuZ-0o-0n7LhGmSTaAlvUuLk1jNnfrbxUzGk=,qCXs8rdZcmU1J9Gc9dHhhPpoK3l0Fv1qoK6l3y2pZ2Y="
)
PASSWORD = "bench-pass-2026"
QUICK = os.environ.get("BENCH_QUICK") == "1"  # smaller run counts, for trying the code


# --- databases -------------------------------------------------------------------------


def pg_url(name: str = PG_DB) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def pg_recreate(name: str = PG_DB) -> str:
    """A fresh, empty PostgreSQL database of the benchmark's own."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url(name)


def pg_drop(name: str = PG_DB) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_clear() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=CACHE_PREFIX + "*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


def make_app(db_url: str, cache_url: str = "", **overrides):
    """The panel on ``db_url`` (schema created), as the tests build it."""
    from webapp import create_app
    from webapp.config import Config
    from webapp.extensions import db

    settings = {
        "SECRET_KEY": "bench-secret-key",
        "SQLALCHEMY_DATABASE_URI": db_url,
        "FERNET_KEYS": FERNET_KEYS,
        "CACHE_URL": cache_url,
        "CACHE_KEY_PREFIX": CACHE_PREFIX,
        "RATELIMIT_ENABLED": False,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "APP_ENV": "development",
    }
    app = create_app(Config.from_env(**(settings | overrides)))
    with app.app_context():
        db.create_all()
        with contextlib.suppress(Exception):
            from webapp.extensions import cache

            cache.clear()
    return app


def sqlite_url(tmpdir: Path, name: str = "bench.db") -> str:
    return f"sqlite:///{tmpdir / name}"


# --- data ------------------------------------------------------------------------------


def capabilities_of(i: int) -> list[str]:
    """Model i of a provider: one or two capabilities, so every capability has
    many models in every provider and some models sit in two groups."""
    from webapp.capabilities import CAPABILITIES

    n = len(CAPABILITIES)
    caps = [CAPABILITIES[i % n]]
    if i % 2:
        caps.append(CAPABILITIES[(i + 3) % n])
    return caps


def load_catalogue(providers: int, models: int, *, active: bool = True) -> list[int]:
    """``providers`` × ``models`` in bulk (ORM, one flush per table), every
    capability present in every provider, the first model of each group active.
    Returns the provider ids."""
    from webapp.extensions import db
    from webapp.models import AIModel, ModelCapability, Provider

    rows = [
        Provider(
            slug=f"prov-{p:02d}",
            name=f"Provider {p:02d}",
            base_url=f"https://prov-{p:02d}.example.invalid/v1",
            shared_api_enabled=True,
        )
        for p in range(providers)
    ]
    db.session.add_all(rows)
    db.session.flush()
    for provider in rows:
        taken: set[str] = set()
        for i in range(models):
            caps = capabilities_of(i)
            model = AIModel(
                provider_id=provider.id,
                name=f"model-{i:03d}",
                model_id=f"{provider.slug}/model-{i:03d}",
                display_name=f"Model {i:03d} of {provider.name}",
                description="",
            )
            for cap in caps:
                is_active = active and cap not in taken
                taken.add(cap)
                model.capability_rows.append(
                    ModelCapability(capability=cap, provider_id=provider.id, is_active=is_active)
                )
            db.session.add(model)
    db.session.commit()
    return [p.id for p in rows]


# --- timing ----------------------------------------------------------------------------


def _calibrate(fn: Callable[[], object], target: float) -> int:
    fn()  # warm
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= target / 5 or n >= 1_000_000:
            return max(1, int(n * target / max(dt, 1e-9)))
        n *= 4


def interleaved(
    funcs: dict[str, Callable[[], object]], runs: int = 7, target: float = 0.15
) -> dict[str, dict]:
    """Per-call time of each function: ``runs`` rounds, each timing a batch of every
    function in turn (the order rotates), so drift hits all of them alike.
    Returns ``{name: {"median": s, "runs": [s, …], "n": calls per batch,
    "cpu_median": this process's CPU seconds per call}}``; ``ratio`` pairs rounds."""
    if QUICK:
        runs, target = 3, 0.03
    numbers = {name: _calibrate(fn, target) for name, fn in funcs.items()}
    samples: dict[str, list[float]] = {name: [] for name in funcs}
    cpu: dict[str, list[float]] = {name: [] for name in funcs}
    names = list(funcs)
    for r in range(runs):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            fn, n = funcs[name], numbers[name]
            gc.collect()
            c0 = time.process_time()
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - t0) / n)
            cpu[name].append((time.process_time() - c0) / n)
    return {
        name: {
            "median": statistics.median(s),
            "runs": s,
            "n": numbers[name],
            "cpu_median": statistics.median(cpu[name]),
        }
        for name, s in samples.items()
    }


def ratio(result: dict, a: str, b: str) -> float:
    """Median of the per-round ratios a/b (paired, so drift between rounds cancels)."""
    pairs = zip(result[a]["runs"], result[b]["runs"], strict=True)
    return statistics.median(x / y for x, y in pairs)


def fmt_time(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_bytes(n: float) -> str:
    if n < 10_000:
        return f"{n:.0f} B"
    if n < 10_000_000:
        return f"{n / 1000:.1f} kB"
    return f"{n / 1e6:.2f} MB"


# --- queries ---------------------------------------------------------------------------


class QueryCounter:
    """Counts statements sent to the driver (``before_cursor_execute``)."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.engine = engine
        self.statements: list[str] = []
        self.executed: list[tuple[str, object]] = []  # (statement, parameters)
        self.on = False
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.on:
            self.statements.append(statement)
            self.executed.append((statement, parameters))

    @contextlib.contextmanager
    def count(self) -> Iterator[list[str]]:
        self.statements = []
        self.executed = []
        self.on = True
        try:
            yield self.statements
        finally:
            self.on = False

    def close(self) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._seen)


def sqlite_scans(engine, executed, table: str = "model_capability") -> list[str]:
    """The SELECTs among ``executed`` (``QueryCounter.executed``) whose SQLite plan
    reads every row of ``table`` (``SCAN``, no index to search), by ``EXPLAIN QUERY
    PLAN`` with the same parameters."""
    found = []
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in executed:
            if not statement.lstrip().upper().startswith("SELECT") or table not in statement:
                continue
            plan = cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
            if any(str(step[-1]).startswith(f"SCAN {table}") for step in plan):
                found.append(statement)
    finally:
        raw.close()
    return found


def describe_statements(statements: list[str]) -> str:
    kinds = [s.strip().split(None, 1)[0].upper() if s.strip() else "?" for s in statements]
    return ", ".join(kinds)


# --- HTTP / processes ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def csrf_from(html: bytes) -> str:
    match = re.search(rb'name="csrf-token" content="([^"]+)"', html) or re.search(
        rb'name="csrf_token"[^>]*value="([^"]+)"', html
    )
    if match is None:
        raise RuntimeError("no CSRF token in the page")
    return match.group(1).decode()


def sign_in(client, username: str, password: str = PASSWORD) -> None:
    page = client.get("/login")
    token = csrf_from(page.data)
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    if response.status_code != 302:
        raise RuntimeError(f"sign-in failed: {response.status_code}")


# --- results ---------------------------------------------------------------------------


def row(
    section: str,
    what: str,
    value: str,
    limit: str = "",
    ratio_value: float | None = None,
    note: str = "",
    flag: bool = False,
    **raw,
) -> dict:
    return {
        "section": section,
        "what": what,
        "value": value,
        "limit": limit,
        "ratio": None if ratio_value is None else round(ratio_value, 2),
        "note": note,
        "flag": flag,
        "raw": raw,
    }


def emit(section: str, rows: list[dict], **extra) -> None:
    """The section's result: the last line of stdout."""
    sys.stdout.flush()
    print(json.dumps({"section": section, "rows": rows, **extra}, ensure_ascii=False))


# --- the panel under gunicorn ----------------------------------------------------------

VENV_BIN = Path(sys.executable).parent


def server_env(cache_url: str | None = REDIS_URL, **extra: str) -> dict[str, str]:
    """What gunicorn and the CLI see: PostgreSQL, Redis (or none), not production."""
    env = {k: v for k, v in os.environ.items() if k not in ("CACHE_URL", "DATABASE_URL")}
    env |= {
        "DATABASE_URL": pg_url(),
        "CACHE_KEY_PREFIX": CACHE_PREFIX,
        "SECRET_KEY": "bench-secret-key",
        "FERNET_KEYS": FERNET_KEYS,
        "APP_ENV": "development",
    }
    if cache_url:
        env["CACHE_URL"] = cache_url
    return env | extra


def flask_cli(*args: str, env: dict[str, str]) -> str:
    import subprocess

    done = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def start_gunicorn(env: dict[str, str], workers: int = 4, access_log: Path | None = None):
    """``gunicorn -w 4 -b 127.0.0.1:<free port> wsgi:app``; returns (process, base URL)
    once /healthz answers. The caller stops it with ``stop_gunicorn``."""
    port = free_port()
    cmd = [str(VENV_BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}"]
    cmd += ["--graceful-timeout", "5", "--log-level", "warning"]
    if access_log is not None:
        cmd += ["--access-logfile", str(access_log)]
        cmd += ["--access-logformat", "%(p)s %({x-probe}i)s %(s)s"]
    cmd.append("wsgi:app")
    return serve_gunicorn(cmd, env, port, "gunicorn")


def start_configured_gunicorn(
    app_spec: str = "wsgi:app",
    extra: list[str] | tuple[str, ...] = (),
    *,
    log_stem: str,
    probe: str = "/healthz",
):
    """gunicorn with the project's configuration file (``webapp/gunicorn_conf.py``), 4
    workers, on a free port, serving ``app_spec``; returns (process, base URL) once
    ``probe`` answers. The caller stops it with ``stop_gunicorn``."""
    port = free_port()
    env = server_env() | {"BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "4"}
    env |= {"LOG_LEVEL": "warning"}
    cmd = [sys.executable, "-m", "gunicorn", "-c", "python:webapp.gunicorn_conf", *extra]
    return serve_gunicorn([*cmd, app_spec], env, port, log_stem, probe)


def serve_gunicorn(
    cmd: list[str], env: dict[str, str], port: int, log_stem: str, probe: str = "/healthz"
):
    """Run ``cmd`` (a gunicorn bound to ``port``), its output in
    ``$BENCH_TMP/<log_stem>-<port>.log``; returns (process, base URL) once ``probe``
    answers 200. A gunicorn that exits, or is not up in 60 s, is an error."""
    import subprocess
    import urllib.request

    log = open(Path(env.get("BENCH_TMP", "/tmp")) / f"{log_stem}-{port}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log_file = log
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited: see {log.name}")
        try:
            with urllib.request.urlopen(base + probe, timeout=2) as resp:
                if resp.status == 200:
                    return proc, base
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop_gunicorn(proc)
            raise RuntimeError(f"gunicorn did not come up in 60 s: see {log.name}")
        time.sleep(0.2)


def stop_gunicorn(proc, timeout: float = 20) -> None:
    import signal
    import subprocess

    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    proc.log_file.close()


def seed_live_chat_model(
    provider: dict, admin: str, role: str, then: Callable[[], object] | None = None
) -> str:
    """A fresh schema and cache; ``provider`` with GPT-4o as its live chat model and
    ``admin`` (of ``role``) with an API token; returns the token. ``then`` adds what else
    a bench needs, in the same app context."""
    from webapp.extensions import db
    from webapp.operations import activation, admins, catalog

    pg_recreate()
    redis_clear()
    app = make_app(pg_url(), REDIS_URL)
    with app.app_context():
        row = catalog.create_provider(provider, actor="bench")
        model, _ = catalog.create_model(
            row,
            {
                "name": "gpt-4o",
                "model_id": "openai/gpt-4o",
                "display_name": "GPT-4o",
                "capabilities": ["chat"],
            },
            actor="bench",
        )
        activation.activate(model, actor="bench")
        owner = admins.create_admin(admin, PASSWORD, role, actor="bench")
        _, token = admins.create_token(owner, "bench")
        if then is not None:
            then()
        db.session.remove()
        db.engine.dispose()
    return token


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def http(
    base: str,
    method: str,
    path: str,
    token: str,
    body: dict | None = None,
    headers: dict | None = None,
) -> tuple[int, bytes]:
    """One request on a fresh connection (gunicorn's sync workers close it anyway);
    status 0 and the exception's name when the connection fails."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    sent = {"Authorization": f"Bearer {token}"} | (headers or {})
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=payload, headers=sent)
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as exc:
        return 0, type(exc).__name__.encode()
    finally:
        conn.close()
