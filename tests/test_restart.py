"""An operator's maintenance window, for real: gunicorn with the project's configuration
(4 workers) on a PostgreSQL cluster and a redis-server this test owns, 8 clients reading
``active_model`` and switching models through the JSON API, and PostgreSQL restarted
(``pg_ctl restart -m fast``) in the middle, then Redis.

Nobody gets a 500. The reads the caches hold answer 200 throughout; writes answer 200,
or 503 with ``Retry-After`` and the Persian envelope while the database is away. After
it: the rule holds (``ai check-conflicts``), the audit log replays to the final state,
and the log has one line per worker when the outage starts and one when it ends, no
traceback. The figures quoted in docs/DEPLOY.md are printed at the end (``-s``).

The switches pause for a moment before the restart (``_quiet_then_restart``): every
switch moves the one generation that guards all cached answers, so a switch committed
just before the database goes away leaves cached answers nobody can re-check.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests import support
from tests.conftest import FERNET_KEYS, make_config
from tests.servers import free_port
from webapp import create_app
from webapp.extensions import db
from webapp.operations import admins
from webapp.queries.lookup import GENERATION_MAX_AGE

ROOT = Path(__file__).resolve().parent.parent
PG_DOWN_S = 2.0
PERSIAN = "پایگاه داده در دسترس نیست؛ چند لحظه دیگر دوباره تلاش کنید"
CLIENTS = 8
WARM_UP_S = 4.0
# The access log names the worker (pid) that answered: see ``_quiet_then_restart``.
ACCESS_LOG_FORMAT = '%(p)s %(s)s "%(r)s"'
SETTLE_S = 6.0  # load between the PostgreSQL restart and the Redis one, and after it
REDIS_DOWN_S = 3.0
PACE_S = 0.02  # per client: keeps every worker under gunicorn's max_requests (recycling)
STEADY = "/api/v1/ai-models/active_model/?provider=steady&capability=chat"
RACING = "/api/v1/ai-models/active_model/?provider=race&capability=chat"


@dataclass(frozen=True)
class Answer:
    at: float  # seconds since the load started, when the answer arrived
    kind: str  # "steady" (a cached read), "racing" (a read the writes invalidate), "write"
    status: int
    retry_after: str | None
    message: str | None
    took: float  # seconds from sending to the answer


def call(base: str, method: str, path: str, token: str, body: dict | None = None):
    return support.call_api(base, method, path, token, body)


class Gunicorn:
    """``gunicorn -c python:webapp.gunicorn_conf wsgi:app``, logging to a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = os.environ | env | {"BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": "4"}
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                [binary, "-c", "python:webapp.gunicorn_conf", "wsgi:app"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        support.wait_until_ready(self.base, self.proc, 60, self.log)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _catalog(app) -> tuple[str, list[int]]:
    """``steady`` (one model, never switched) and ``race`` (four chat models, switched by
    the writes); returns the operator's token and the race's model ids."""
    with app.app_context():
        db.create_all()
        make_provider = support.ProviderFactory()
        make_model = support.ModelFactory(make_provider)
        make_model(make_provider("steady"), "s", caps=["chat"], active=True)
        race = make_provider("race")
        caps = [["chat"], ["chat", "code"], ["chat"], ["chat", "vision"]]
        ids = [make_model(race, f"r{i}", caps=c).id for i, c in enumerate(caps)]
        _, token = admins.create_token(support.AdminFactory()("operator", username="op"), "load")
        db.session.remove()
    return token, ids


def _load(
    base: str,
    token: str,
    ids: list[int],
    stop: threading.Event,
    switches: Switches,
    started: float,
):
    answers: list[Answer] = []
    lock = threading.Lock()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            roll = rng.random()
            if roll < 0.4:
                kind, args = "steady", ("GET", STEADY, token)
            elif roll < 0.6:
                kind, args = "racing", ("GET", RACING, token)
            else:
                path = f"/api/v1/ai-models/{rng.choice(ids)}/"
                kind, args = "write", ("PATCH", path, token, {"is_active": True})
            if kind == "write" and not switches.begin():
                kind, args = "steady", ("GET", STEADY, token)
            sent = time.monotonic()
            try:
                status, headers, body = call(base, *args)
            finally:
                if kind == "write":
                    switches.end()
            try:
                message = json.loads(body)["metaData"]["message"]
            except (ValueError, KeyError, TypeError):
                message = None
            now = time.monotonic()
            answer = Answer(
                now - started, kind, status, headers.get("Retry-After"), message, now - sent
            )
            with lock:
                answers.append(answer)
            time.sleep(PACE_S)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    return threads, answers


def _accepts_connections(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


class Switches:
    """The clients' switches: paused (none sent, the ones in flight awaited) or not."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.paused = False
        self.in_flight = 0

    def begin(self) -> bool:
        with self._cond:
            if self.paused:
                return False
            self.in_flight += 1
            return True

    def end(self) -> None:
        with self._cond:
            self.in_flight -= 1
            self._cond.notify_all()

    def pause(self) -> None:
        with self._cond:
            self.paused = True
            assert self._cond.wait_for(lambda: self.in_flight == 0, timeout=120)

    def resume(self) -> None:
        with self._cond:
            self.paused = False


def _steady_answered_by(log_path: Path, offset: int) -> set[str]:
    """The workers (pids) that answered a steady read in the log after ``offset``."""
    with open(log_path, errors="replace") as log:
        log.seek(offset)
        text = log.read()
    return set(re.findall(r'^<(\d+)> 200 "GET [^"]*provider=steady', text, re.MULTILINE))


def _quiet_then_restart(pg, server: Gunicorn, switches: Switches) -> tuple[float, float, float]:
    """Restart PostgreSQL with no switch committed since every worker last checked.

    Every switch moves the database generation that guards all cached answers (tokens
    and active models alike); a worker that has not re-read it since, or read it and
    not yet re-checked its answers, cannot do so once the database is away and answers
    503. So the switches pause; once each of the 4 workers has answered a steady read
    after re-reading the generation, PostgreSQL restarts, and the switches resume once
    the server refuses new connections (none can commit any more). Returns when the
    restart began, when the server was seen refusing, and when it accepted again."""
    switches.pause()
    time.sleep(GENERATION_MAX_AGE + 0.2)
    offset = server.log_path.stat().st_size
    deadline = time.monotonic() + 120
    while len(_steady_answered_by(server.log_path, offset)) < 4:
        assert time.monotonic() < deadline, "not every worker answered a steady read"
        time.sleep(0.2)
    began = time.monotonic()
    restart = threading.Thread(target=_restart_slowly, args=(pg,))
    restart.start()
    while _accepts_connections(pg.url):
        assert restart.is_alive(), "PostgreSQL restarted before it was seen down"
        time.sleep(0.02)
    refused = time.monotonic()
    time.sleep(0.2)  # the backends it cut are gone
    switches.resume()
    restart.join(timeout=120)
    return began, refused, time.monotonic()


def _restart_slowly(pg) -> None:
    """A restart that stays down as long as a maintenance window's does (about 2 s), so
    that switches certainly arrive while it is away, however fast the machine restarts."""
    pg.stop()
    time.sleep(PG_DOWN_S)
    pg.start()


def _window(answers: list[Answer], kind: str, status: int) -> tuple[float, float] | None:
    times = [a.at for a in answers if a.kind == kind and a.status == status]
    return (min(times), max(times)) if times else None


def _replayed_and_final(app, ids: list[int]) -> tuple[dict, dict]:
    with app.app_context():
        replayed, final, _ = support.replayed_and_final(ids)
        db.session.remove()
    return replayed, final


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_postgresql_and_redis_restart_under_load(private_postgres, private_redis, tmp_path):
    prefix = f"mcp-restart-{os.getpid()}:"
    app = create_app(make_config(private_postgres.url, private_redis.url, CACHE_KEY_PREFIX=prefix))
    token, ids = _catalog(app)
    server = Gunicorn(
        {
            "DATABASE_URL": private_postgres.url,
            "CACHE_URL": private_redis.url,
            "CACHE_KEY_PREFIX": prefix,
            "SECRET_KEY": "restart-test-secret-key",
            "FERNET_KEYS": FERNET_KEYS,
            "APP_ENV": "development",
            "GUNICORN_GRACEFUL_TIMEOUT": "5",
            "GUNICORN_CMD_ARGS": f"--access-logformat '{ACCESS_LOG_FORMAT}'",
        },
        tmp_path / "gunicorn.log",
    )
    server.start()
    stop, switches = threading.Event(), Switches()
    started = time.monotonic()
    try:
        threads, answers = _load(server.base, token, ids, stop, switches, started)
        time.sleep(WARM_UP_S)
        pg_restart, pg_refused, pg_back = _quiet_then_restart(private_postgres, server, switches)
        time.sleep(SETTLE_S)
        redis_stop = time.monotonic()
        private_redis.stop()
        time.sleep(REDIS_DOWN_S)
        private_redis.start()
        redis_back = time.monotonic()
        time.sleep(SETTLE_S)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
    finally:
        stop.set()
        server.stop()
    log = server.log()

    statuses = Counter((a.kind, a.status) for a in answers)
    assert not [a for a in answers if a.status >= 500 and a.status != 503], statuses
    assert {a.status for a in answers if a.kind == "steady"} == {200}, statuses
    # 404 before the first switch: the race starts with no live model.
    assert {a.status for a in answers if a.kind == "racing"} <= {200, 404, 503}, statuses
    assert {a.status for a in answers if a.kind == "write"} <= {200, 503}, statuses
    refused = [a for a in answers if a.status == 503]
    assert refused, "the restart went unnoticed: nothing was refused"
    for answer in refused:
        assert answer.retry_after and int(answer.retry_after) > 0
        assert answer.message == PERSIAN
    # Writes answered before the restart and after it: the app recovered by itself.
    written = [a.at for a in answers if a.kind == "write" and a.status == 200]
    assert min(written) < pg_restart - started < pg_back - started < max(written)
    redis_window = (redis_stop - started, redis_back - started)
    # Every request that was in flight at some point while Redis was away.
    during_redis = [
        a for a in answers if a.at - a.took < redis_window[1] and a.at > redis_window[0]
    ]
    assert during_redis and {a.status for a in during_redis} == {200}, Counter(
        (a.kind, a.status) for a in during_redis
    )

    # The rule holds and the history tells the truth.
    env = server.env | {"FLASK_APP": "wsgi"}
    check = subprocess.run(
        [sys.executable, "-m", "flask", "ai", "check-conflicts"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    replayed, final = _replayed_and_final(app, ids)
    assert replayed == final
    assert sum(1 for caps in final.values() if "chat" in caps) == 1

    # One line per worker when the outage starts, one when it ends; no traceback.
    assert "Traceback" not in log, log[-5000:]
    down = Counter(re.findall(r"database unavailable in process (\d+)", log))
    up = Counter(re.findall(r"database available again in process (\d+)", log))
    assert down and set(down.values()) == {1}, down
    assert up == down, (down, up)

    with app.app_context():
        db.engine.dispose()

    _print_figures(answers, started, (pg_restart, pg_refused, pg_back), (redis_stop, redis_back))


def _print_figures(answers: list[Answer], started: float, pg: tuple, redis: tuple) -> None:
    """What docs/DEPLOY.md quotes: how long each part of the panel said "try again"."""
    began, refused, back = (t - started for t in pg)
    redis_stop, redis_back = (t - started for t in redis)

    def median_ms(selected: list[Answer]) -> str:
        return f"{statistics.median(a.took for a in selected) * 1000:.0f} ms" if selected else "-"

    lines = [
        f"{len(answers)} answers in {answers[-1].at:.1f} s, "
        f"{dict(Counter((a.kind, a.status) for a in answers))}",
        f"PostgreSQL: restart began {began:.2f} s, refused connections from {refused:.2f} s, "
        f"accepted again at {back:.2f} s (pg_ctl restart: {back - began:.2f} s)",
    ]
    for kind in ("write", "racing"):
        window = _window(answers, kind, 503)
        if window:
            lines.append(
                f"{kind}: 503 from {window[0] - began:+.2f} s to {window[1] - began:+.2f} s "
                f"after the restart began ({window[1] - window[0]:.2f} s)"
            )
    back_ok = min(a.at for a in answers if a.kind == "write" and a.status == 200 and a.at > began)
    lines.append(f"first successful write {back_ok - began:.2f} s after the restart began")
    outage = [a for a in answers if began <= a.at <= back and a.kind == "steady"]
    normal = [a for a in answers if a.at < began and a.kind == "steady"]
    lines.append(
        f"steady reads during the restart: {len(outage)}, all 200, median {median_ms(outage)} "
        f"(before: {median_ms(normal)})"
    )
    # By when it was sent: a request sent while Redis was away may end after it is back.
    during = [a for a in answers if redis_stop <= a.at - a.took <= redis_back]
    after = [a for a in answers if a.at - a.took > redis_back]
    lines.append(
        f"Redis down {redis_back - redis_stop:.2f} s: {len(during)} requests sent, all 200, "
        f"median {median_ms(during)}, slowest {max(a.took for a in during) * 1000:.0f} ms "
        f"(sent after it: median {median_ms(after)})"
    )
    print("\nrestart figures:\n  " + "\n  ".join(lines))
