"""The active-model cache survives lost invalidations: the database's generation
moves with every change, and every worker checks it at most a second late."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from tests import support
from tests.conftest import FERNET_KEYS
from tests.test_faults import PrivateRedis, free_port
from webapp.cache import local_layer
from webapp.extensions import cache, db
from webapp.models import CacheGeneration
from webapp.models.cache import GENERATION_ROW
from webapp.operations import activation, admins, catalog
from webapp.operations.importer import run_import
from webapp.queries import lookup
from webapp.queries.lookup import cache_key, get_active_model

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 3


def generation() -> int:
    db.session.remove()
    row = select(CacheGeneration.generation).where(CacheGeneration.id == GENERATION_ROW)
    return db.session.scalar(row) or 0


def test_every_change_that_can_alter_an_answer_moves_the_generation(make_provider, make_model):
    changes = {}

    def moved(name, change):
        before = generation()
        change()
        changes[name] = generation() - before

    moved("create provider", lambda: make_provider("acme"))
    p_id = catalog.get_provider("acme").id
    made = []
    moved("create model", lambda: made.append(make_model(p_id, "a", caps=["chat", "code"]).id))
    m_id = made[0]
    moved("activate", lambda: activation.activate(m_id))
    moved("deactivate", lambda: activation.deactivate(m_id, ["code"]))
    moved("clear group", lambda: activation.clear_group(p_id, "chat"))
    moved("edit model", lambda: catalog.update_model(m_id, {"display_name": "B"}))
    moved("edit provider", lambda: catalog.update_provider(p_id, {"is_enabled": False}))
    moved("delete model", lambda: catalog.delete_model(m_id))
    raw = json.dumps(
        [
            {"model": "ai.aiprovider", "pk": 9, "fields": {"slug": "imp", "name": "Imp"}},
            {
                "model": "ai.aimodel",
                "pk": 1,
                "fields": {
                    "provider": 9,
                    "name": "m",
                    "model_id": "m",
                    "display_name": "M",
                    "capabilities": ["chat"],
                    "is_active": True,
                },
            },
        ]
    )
    moved("import", lambda: run_import(raw))
    moved("delete provider", lambda: catalog.delete_provider(p_id))
    assert {name: n >= 1 for name, n in changes.items()} == dict.fromkeys(changes, True)


def test_a_rolled_back_change_leaves_the_generation(make_provider, make_model):
    p = make_provider("acme")
    b_id = make_model(p, caps=["chat"]).id
    before = generation()
    support.activate_then_roll_back(b_id)
    assert generation() == before


def age(layer, seconds: float) -> None:
    """As if this process had read the generation ``seconds`` earlier."""
    layer.read_at -= seconds
    layer.trusted_until -= seconds


def test_an_invalidation_the_cache_lost_is_seen_within_a_second(
    app_factory, make_provider, make_model, monkeypatch
):
    """Another process committed a change, but neither its push nor its counter reached
    this one: the database's generation still does, at the latest a second later."""
    p = make_provider("acme")
    a = make_model(p, caps=["chat"], active=True)
    b = make_model(p, caps=["chat"])
    a_id, b_id = a.id, b.id
    assert get_active_model("acme", "chat").id == a_id  # cached
    other = app_factory()  # the other process: its own local layer
    monkeypatch.setattr(other.extensions["cache"], "incr", lambda key: None)
    monkeypatch.setattr(type(cache), "publish_generation", lambda self, value, tokens=False: None)
    with other.app_context():
        activation.activate(b_id)  # the invalidations are lost
        db.session.remove()
    db.session.remove()
    age(local_layer(), lookup.GENERATION_MAX_AGE)  # however fresh it was, a second later
    assert get_active_model("acme", "chat").id == b_id


def test_the_generation_is_read_at_most_once_a_second(make_provider, make_model):
    p = make_provider("acme")
    make_model(p, caps=["chat"], active=True)
    get_active_model("acme", "chat")
    age(local_layer(), lookup.GENERATION_MAX_AGE)
    reads = []

    def count(conn, cursor, statement, *args):
        reads.append(statement)

    from sqlalchemy import event

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for _ in range(20):
            get_active_model("acme", "chat")
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(reads) == 1 and "cache_generation" in reads[0], reads


# Several worker processes (gunicorn), a Redis of the test's own.


def ask(base: str, token: str) -> str:
    req = urllib.request.Request(
        base + "/api/v1/ai-models/active_model/?provider=acme&capability=chat",
        headers={"Authorization": f"Bearer {token}", "Connection": "close"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())["data"]["name"]
    except urllib.error.HTTPError as err:
        return f"http {err.code}"


class Gunicorn:
    """gunicorn with several workers in a process group of its own, so one signal
    ends the master and every worker at once."""

    def __init__(self, env: dict) -> None:
        self.env = env
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
        self.proc = subprocess.Popen(
            [
                gunicorn,
                *("-w", str(WORKERS), "-k", "gthread", "--threads", "2"),
                *("-b", f"127.0.0.1:{self.port}", "--log-level", "warning", "wsgi:app"),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            assert self.proc.poll() is None, self.proc.stdout.read()
            assert time.monotonic() < deadline, "gunicorn did not come up"
            time.sleep(0.2)

    def kill(self) -> str:
        """SIGKILL to the master and every worker: nothing they hold in memory survives."""
        if self.proc is None:
            return ""
        os.killpg(self.proc.pid, signal.SIGKILL)
        out, _ = self.proc.communicate(timeout=15)
        self.proc = None
        return out or ""


@pytest.fixture
def panel(app_factory, tmp_path):
    """A private Redis (snapshots in tmp_path), the database with acme's two models,
    an API token, and the environment for gunicorn workers that use them."""
    redis_server = PrivateRedis(directory=tmp_path)
    redis_server.start()
    prefix = f"mcp-durable-{os.getpid()}:"
    app = app_factory(CACHE_URL=redis_server.url, CACHE_KEY_PREFIX=prefix)
    with app.app_context():
        make_provider = support.ProviderFactory()
        p = make_provider("acme")
        a = support.ModelFactory(make_provider)(p, "model-a", caps=["chat"], active=True)
        b = support.ModelFactory(make_provider)(p, "model-b", caps=["chat"])
        ids = {"a": a.id, "b": b.id}
        _, token = admins.create_token(support.AdminFactory()("viewer"), "durable")
        db.session.remove()
    env = os.environ | {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "CACHE_URL": redis_server.url,
        "CACHE_KEY_PREFIX": prefix,
        "SECRET_KEY": "durable-secret-" + "x" * 32,
        "FERNET_KEYS": FERNET_KEYS,
        "APP_ENV": "development",
    }
    servers: list[Gunicorn] = []

    def gunicorn() -> Gunicorn:
        server = Gunicorn(env)
        servers.append(server)
        server.start()
        return server

    yield app, redis_server, gunicorn, token, ids, prefix
    logs = "".join(server.kill() for server in servers)
    redis_server.stop()
    assert "Traceback" not in logs, logs


@pytest.mark.redis
@pytest.mark.slow
def test_no_stale_answer_after_workers_restart_on_a_redis_snapshot(panel):
    """The change happens while Redis is down; every worker dies; Redis comes back
    from a snapshot taken before the change (old answer, old counters)."""
    import redis

    app, redis_server, gunicorn, token, ids, prefix = panel
    server = gunicorn()
    assert {ask(server.base, token) for _ in range(WORKERS * 3)} == {"model-a"}
    client = redis.Redis(port=redis_server.port)
    assert client.exists(prefix + cache_key("acme", "chat"))
    client.save()  # the snapshot: model-a cached, the counters before the change
    client.close()
    redis_server.stop()

    with app.app_context():
        activation.activate(ids["b"])  # commits; its invalidation cannot reach Redis
        db.session.remove()
    server.kill()  # every worker, and whatever it remembered

    redis_server.start()  # from the snapshot
    client = redis.Redis(port=redis_server.port)
    assert json.loads(client.get(prefix + cache_key("acme", "chat")))["v"]["name"] == "model-a"
    client.close()
    server = gunicorn()
    answers = [ask(server.base, token) for _ in range(WORKERS * 10)]
    stale = [a for a in answers if a != "model-b"]
    assert stale == [], f"{len(stale)} stale answers of {len(answers)}"


@pytest.mark.redis
@pytest.mark.slow
def test_every_worker_sees_a_change_within_a_second_when_redis_missed_it(panel, app_factory):
    """One process cannot reach Redis when it commits (a partition); the workers,
    which can, must not keep the old answer for the rest of the TTL."""
    _app, _redis, gunicorn, token, ids, prefix = panel
    server = gunicorn()
    assert {ask(server.base, token) for _ in range(WORKERS * 3)} == {"model-a"}
    cut_off = app_factory(CACHE_URL="redis://127.0.0.1:1/0", CACHE_KEY_PREFIX=prefix)
    with cut_off.app_context():
        activation.activate(ids["b"])
        db.session.remove()
    committed = time.monotonic()
    first_new = None
    while time.monotonic() - committed < 5:
        if ask(server.base, token) == "model-b" and first_new is None:
            first_new = time.monotonic() - committed
        if time.monotonic() - committed > lookup.GENERATION_MAX_AGE + 0.3:
            break
        time.sleep(0.02)
    answers = [ask(server.base, token) for _ in range(WORKERS * 10)]
    assert set(answers) == {"model-b"}, answers
    assert first_new is not None and first_new <= lookup.GENERATION_MAX_AGE + 0.3
