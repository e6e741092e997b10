"""get_active_model's cache: fresh after commit, untouched by rollback, shared via Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event

from tests import support
from webapp.extensions import cache, db
from webapp.operations import activation, catalog
from webapp.queries.lookup import cache_key, database_generation, generation_key, get_active_model

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def count_queries():
    statements: list[str] = []

    def before(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def lookups(statements: list[str]) -> list[str]:
    """The statements beside the database generation (read at most once a second)."""
    return [s for s in statements if "cache_generation" not in s]


def test_uncached_lookup_is_exactly_one_query(make_provider, make_model):
    p = make_provider("acme")
    make_model(p, caps=["chat", "code"], active=True)
    cache.clear()
    db.session.remove()
    with count_queries() as statements:
        model = get_active_model("acme", "chat")
    assert model is not None and model.capabilities == ("chat", "code")
    selects = [s for s in lookups(statements) if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, statements
    assert len(statements) <= 2, statements  # plus, at most, the generation
    with count_queries() as statements:
        assert get_active_model("acme", "chat") == model
    assert lookups(statements) == []  # served from the cache


def test_missing_answer_is_cached_too(make_provider):
    make_provider("acme")
    assert get_active_model("acme", "chat") is None
    with count_queries() as statements:
        assert get_active_model("acme", "chat") is None
    assert lookups(statements) == []


def test_change_is_visible_immediately_after_commit(make_provider, make_model):
    p = make_provider("acme")
    a = make_model(p, caps=["chat"], active=True)
    b = make_model(p, caps=["chat"])
    assert get_active_model("acme", "chat").id == a.id  # now cached
    activation.activate(b)
    assert get_active_model("acme", "chat").id == b.id
    catalog.update_model(b, {"display_name": "Renamed"})
    assert get_active_model("acme", "chat").display_name == "Renamed"
    activation.deactivate(b)
    assert get_active_model("acme", "chat") is None


def test_rolled_back_change_keeps_the_cached_answer(make_provider, make_model):
    p = make_provider("acme")
    a = make_model(p, caps=["chat"], active=True)
    b = make_model(p, caps=["chat"])
    a_id = a.id
    assert get_active_model("acme", "chat").id == a_id
    support.activate_then_roll_back(b)
    with count_queries() as statements:
        assert get_active_model("acme", "chat").id == a_id
    assert lookups(statements) == []  # the rolled-back change did not evict anything


def test_stale_write_after_invalidation_is_never_served(make_provider, make_model):
    """A reader that loaded the old answer before a commit and wrote it to the cache
    after the invalidation must not poison the cache (generation check)."""
    from webapp.queries.lookup import load_active_model

    p = make_provider("acme")
    a = make_model(p, caps=["chat"], active=True)
    b = make_model(p, caps=["chat"])
    generation = cache.get(generation_key("acme"))
    generation = 0 if not isinstance(generation, int) else generation
    stamp = database_generation()
    stale = load_active_model("acme", "chat")  # the slow reader's snapshot
    activation.activate(b)  # commit + invalidation happen here
    entry = {"g": generation, "d": stamp, "v": stale.to_dict()}
    cache.set(cache_key("acme", "chat"), entry, 300)
    assert get_active_model("acme", "chat").id == b.id
    assert stale.id == a.id


def test_ttl_zero_disables_caching(app_factory):
    app = app_factory(ACTIVE_MODEL_CACHE_TTL=0)
    with app.app_context():
        from tests.support import ModelFactory, ProviderFactory

        make_provider = ProviderFactory()
        p = make_provider("acme")
        ModelFactory(make_provider)(p, caps=["chat"], active=True)
        get_active_model("acme", "chat")
        with count_queries() as statements:
            get_active_model("acme", "chat")
        assert len(statements) == 1
        db.session.remove()


CHILD = """
import sys
from webapp import create_app
from tests.conftest import make_config
from webapp.extensions import db
from webapp.queries.lookup import get_active_model
app = create_app(make_config(sys.argv[1], sys.argv[2], CACHE_KEY_PREFIX=sys.argv[3]))
with app.app_context():
    for line in sys.stdin:
        model = get_active_model("acme", "chat")
        print(model.name if model else "-", flush=True)
        db.session.remove()  # each question is its own request
"""


@pytest.mark.redis
def test_redis_invalidation_reaches_another_process(app_factory, database_url, tmp_path):
    from tests.support import ModelFactory, ProviderFactory, require_redis

    redis_url = os.environ.get("TEST_CACHE_URL") or "redis://127.0.0.1:6379/15"
    require_redis(redis_url)
    prefix = f"mcp-test-xproc-{os.getpid()}:"
    app = app_factory(CACHE_URL=redis_url, CACHE_KEY_PREFIX=prefix)
    db_url = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        cache.clear()
        make_provider = ProviderFactory()
        p = make_provider("acme")
        a = ModelFactory(make_provider)(p, "model-a", caps=["chat"], active=True)
        b = ModelFactory(make_provider)(p, "model-b", caps=["chat"])
        a, b = a.id, b.id
        db.session.remove()
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, db_url, redis_url, prefix],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        try:

            def ask() -> str:
                child.stdin.write("?\n")
                child.stdin.flush()
                return child.stdout.readline().strip()

            def soon(expected: str) -> bool:
                # Pushed to the other process's memory: milliseconds, at most a second.
                deadline = time.monotonic() + 1.0
                while ask() != expected:
                    if time.monotonic() > deadline:
                        return False
                    time.sleep(0.01)
                return True

            assert ask() == "model-a"  # the other process caches it
            assert ask() == "model-a"
            activation.activate(b)
            assert soon("model-b")  # invalidated there too
            activation.activate(a)
            assert soon("model-a")
        finally:
            child.stdin.close()
            child.wait(timeout=10)
            cache.clear()
        assert child.returncode == 0
        db.session.remove()
