"""Concurrency through HTTP: many simultaneous activations in one group, sent to a real
server process (gunicorn, several worker processes × threads) on this test's database.
Afterwards every capability has at most one active model, as ``by_provider`` shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import FERNET_KEYS
from tests.servers import free_port
from tests.support import API
from webapp.capabilities import CAPABILITIES
from webapp.extensions import db
from webapp.models import ModelCapability

ROOT = Path(__file__).resolve().parents[2]
WORKERS, THREADS, CLIENTS, REQUESTS = 3, 4, 16, 64


def call(base: str, method: str, path: str, token: str, body=None) -> tuple[int, dict]:
    request = urllib.request.Request(
        base + API + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def server_log(tmp_path) -> str:
    return (tmp_path / "gunicorn.log").read_text(errors="replace")[-5000:]


@pytest.fixture
def server_process(app, tmp_path):
    """gunicorn serving wsgi:app on the same database (and cache) as the test."""
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        # Each worker's own in-process cache: a shared Redis would need the test's own key
        # prefix, which the environment cannot set, and two suites running at once would
        # then read each other's answers. The lookup below runs only after every write.
        "CACHE_URL": "",
        "SECRET_KEY": "test-secret-key",
        "FERNET_KEYS": FERNET_KEYS,
        "APP_ENV": "development",
    }
    db.session.commit()
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--workers",
            str(WORKERS),
            "--threads",
            str(THREADS),
            "--bind",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "1",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}{API}/openapi.json", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"gunicorn did not start:\n{server_log(tmp_path)}")
            time.sleep(0.1)
    yield base
    print(server_log(tmp_path))  # shown when the test fails
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_concurrent_activations_leave_one_active_model_per_capability(
    server_process, make_provider, make_model, token_for
):
    race = make_provider("race", name="Race")
    models = [
        make_model(race, f"m{i}", caps=["chat", "code"] if i % 2 else ["chat"]) for i in range(8)
    ]
    tokens = [token_for("operator") for _ in range(4)]
    jobs = [
        (models[i % len(models)].id, tokens[i % len(tokens)], i % 9 != 8) for i in range(REQUESTS)
    ]

    def patch(job):
        model_id, token, active = job
        return call(
            server_process, "PATCH", f"/ai-models/{model_id}/", token, {"is_active": active}
        )

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(patch, jobs))

    assert [status for status, _ in results] == [200] * REQUESTS, [
        body for status, body in results if status != 200
    ]
    assert all(body["metaData"]["status"] == "success" for _, body in results)

    status, body = call(server_process, "GET", "/ai-models/by_provider/?provider=race", tokens[0])
    assert status == 200
    for capability in CAPABILITIES:
        holders = [m["name"] for m in body["data"] if capability in m["active_capabilities"]]
        assert len(holders) <= 1, (capability, holders)

    # The database agrees, and the lookup names the same model as the listing.
    db.session.expire_all()
    rows = db.session.execute(
        db.select(ModelCapability.capability, db.func.count())
        .where(ModelCapability.provider_id == race.id, ModelCapability.is_active)
        .group_by(ModelCapability.capability)
    ).all()
    assert all(count == 1 for _, count in rows), rows
    for capability, _ in rows:
        status, active = call(
            server_process,
            "GET",
            f"/ai-models/active_model/?provider=race&capability={capability}",
            tokens[0],
        )
        holder = next(m for m in body["data"] if capability in m["active_capabilities"])
        assert status == 200 and active["data"]["id"] == holder["id"]
