"""Issue 7: gunicorn with several workers on PostgreSQL and Redis, hundreds of concurrent
activations through HTTP; afterwards the rule holds, nothing failed, the audit log
replays to the final state, and every worker answers with the latest model."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading

import pytest
from sqlalchemy import func, select

from tests import support
from tests.servers import free_port
from webapp.extensions import db
from webapp.models import ModelCapability
from webapp.operations import admins
from webapp.queries.lookup import load_active_model

REDIS_URL = "redis://127.0.0.1:6379/13"
WORKERS = 3
CLIENTS = 6
REQUESTS_PER_CLIENT = 40  # 240 activations and deactivations


def call(base: str, method: str, path: str, token: str, body: dict | None = None):
    status, _, raw = support.call_api(base, method, path, token, body, Connection="close")
    return status, json.loads(raw or b"{}")


@pytest.fixture
def gunicorn_panel(app_factory):
    url = support.create_database(support.PG_URL, f"mcp_multi_{os.getpid()}")
    prefix = f"mcp-multi-{os.getpid()}:"
    app = app_factory(SQLALCHEMY_DATABASE_URI=url, CACHE_URL=REDIS_URL, CACHE_KEY_PREFIX=prefix)
    port = free_port()
    with app.app_context():
        db.create_all()
        from webapp.extensions import cache

        cache.clear()
        provider = support.ProviderFactory()("race")
        make_model = support.ModelFactory(support.ProviderFactory())
        caps = [["chat"], ["chat", "code"], ["code"], ["chat", "vision"], ["vision", "code"]]
        ids = [make_model(provider, caps=c).id for c in caps for _ in range(2)]
        admin = support.AdminFactory()("operator", username="racer")
        _, token = admins.create_token(admin, "race")
        db.session.remove()
    env = os.environ | {
        "DATABASE_URL": url,
        "CACHE_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": prefix,
        "SECRET_KEY": "multi-secret",
        "APP_ENV": "development",
    }
    server = support.start_gunicorn(
        [
            "-w",
            str(WORKERS),
            "-k",
            "gthread",
            "--threads",
            "4",
            "-b",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "3",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        support.wait_until_ready(base, server, 30, lambda: support.exited_output(server))
        yield app, base, token, ids
    finally:
        server.send_signal(signal.SIGINT)  # quick shutdown: every request has been answered
        try:
            out, _ = server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            out, _ = server.communicate()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        support.drop_database(support.PG_URL, url)
        assert "Traceback" not in (out or ""), out


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_hundreds_of_concurrent_activations_through_gunicorn(gunicorn_panel):
    app, base, token, ids = gunicorn_panel
    statuses: list[int] = []
    lock = threading.Lock()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(REQUESTS_PER_CLIENT):
            body = {"is_active": rng.random() < 0.8}
            status, payload = call(
                base, "PATCH", f"/api/v1/ai-models/{rng.choice(ids)}/", token, body
            )
            assert payload["metaData"]["status"] in ("success", "error")
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)

    assert len(statuses) == CLIENTS * REQUESTS_PER_CLIENT
    assert set(statuses) == {200}, sorted(set(statuses))

    with app.app_context():
        two_active = db.session.execute(
            select(ModelCapability.capability, func.count())
            .where(ModelCapability.is_active)
            .group_by(ModelCapability.provider_id, ModelCapability.capability)
            .having(func.count() > 1)
        ).all()
        assert two_active == []

        # Replaying the audit log from "nothing active" gives the final state exactly.
        replayed, final, events = support.replayed_and_final(ids)
        assert events > CLIENTS  # plenty of real changes happened
        assert replayed == final

        expected = {cap: load_active_model("race", cap) for cap in ("chat", "code", "vision")}
        db.session.remove()

    # Every worker answers with the latest model (many requests, new connection each).
    for cap, model in expected.items():
        for _ in range(WORKERS * 5):
            status, payload = call(
                base,
                "GET",
                f"/api/v1/ai-models/active_model/?provider=race&capability={cap}",
                token,
            )
            if model is None:
                assert status == 404
            else:
                assert status == 200 and payload["data"]["id"] == model.id
