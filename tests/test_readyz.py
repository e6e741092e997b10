"""``/readyz`` names what is down (the database, the cache) with a 503; ``/healthz``
asks nothing and answers 200 whatever is down (the process is alive)."""

from __future__ import annotations

import pytest

from tests.ai.fake_provider import closed_port
from tests.conftest import make_config
from webapp import create_app
from webapp.extensions import db
from webapp.outage import state


@pytest.fixture(autouse=True)
def _fresh_state():
    state.reset()
    yield
    state.reset()


def _app(db_url: str, cache_url: str = ""):
    return create_app(make_config(db_url, cache_url))


def _ready(app) -> tuple[int, dict]:
    response = app.test_client().get("/readyz")
    return response.status_code, response.get_json()


def _alive(app) -> bool:
    response = app.test_client().get("/healthz")
    return response.status_code == 200 and response.get_json() == {"status": "ok"}


def _dispose(app) -> None:
    with app.app_context():
        db.engine.dispose()


def test_a_database_that_is_down_is_named(tmp_path):
    # Nothing listens on the port: what a stopped PostgreSQL looks like to the app.
    app = _app(f"postgresql://postgres@127.0.0.1:{closed_port()}/panel")
    status, body = _ready(app)
    assert status == 503
    assert body["status"] == "error" and body["down"] == ["database"]
    assert body["checks"]["database"].startswith("error: ")
    assert body["checks"]["cache"].startswith("ok")
    assert _alive(app)
    _dispose(app)


@pytest.mark.redis
def test_a_cache_that_is_down_is_named_and_comes_back(tmp_path, private_redis):
    app = _app(f"sqlite:///{tmp_path / 'ready.db'}", private_redis.url)
    assert _ready(app) == (
        200,
        {"status": "ok", "down": [], "checks": {"database": "ok", "cache": "ok"}},
    )
    private_redis.stop()
    status, body = _ready(app)
    assert status == 503
    assert body["down"] == ["cache"]
    assert body["checks"] == {"database": "ok", "cache": "error: unreachable"}
    assert _alive(app)
    private_redis.start()
    assert _ready(app)[0] == 200
    _dispose(app)


@pytest.mark.redis
def test_both_down_are_both_named(private_redis):
    app = _app(f"postgresql://postgres@127.0.0.1:{closed_port()}/panel", private_redis.url)
    private_redis.stop()
    status, body = _ready(app)
    assert status == 503 and body["down"] == ["database", "cache"]
    assert _alive(app)
    _dispose(app)
