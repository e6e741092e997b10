"""Faults injected for real, and what the panel does about them."""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from tests import support
from tests.servers import PrivateRedis, free_port  # noqa: F401 (imported from here elsewhere)
from webapp.db import transactional
from webapp.extensions import cache, db
from webapp.models import AuditEvent, ModelCapability
from webapp.operations import activation, audit
from webapp.queries.lookup import get_active_model


def acme_with_two_chat_models() -> tuple[int, int]:
    """Provider acme with model-a, live for chat, and model-b: their ids."""
    make_provider = support.ProviderFactory()
    make_model = support.ModelFactory(make_provider)
    p = make_provider("acme")
    a = make_model(p, "model-a", caps=["chat"], active=True)
    b = make_model(p, "model-b", caps=["chat"])
    return a.id, b.id


@pytest.mark.redis
def test_redis_down_then_back(app_factory, private_redis):
    app = app_factory(CACHE_URL=private_redis.url)
    with app.app_context():
        a_id, b_id = acme_with_two_chat_models()
        assert get_active_model("acme", "chat").id == a_id  # cached in Redis now

        private_redis.stop()
        client = app.test_client()
        assert client.get("/readyz").status_code == 503
        # Lookups and changes keep working from the database, no error reaches anyone.
        assert get_active_model("acme", "chat").id == a_id
        activation.activate(b_id)  # its invalidation cannot reach Redis
        assert get_active_model("acme", "chat").id == b_id

        private_redis.start()  # an empty Redis comes back
        assert client.get("/readyz").status_code == 200
        assert get_active_model("acme", "chat").id == b_id
        activation.activate(a_id)
        assert get_active_model("acme", "chat").id == a_id
        db.session.remove()


@pytest.mark.redis
def test_lost_invalidation_is_flushed_when_redis_returns(app_factory, private_redis):
    """Redis keeps its data across a network blip: the old answer must not survive it."""
    app = app_factory(CACHE_URL=private_redis.url)
    with app.app_context():
        a_id, b_id = acme_with_two_chat_models()
        assert get_active_model("acme", "chat").id == a_id
        backend = cache.backend
        real_client = backend.client
        import redis

        backend.client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
        activation.activate(b_id)  # invalidation lost: Redis unreachable from here
        backend.client = real_client  # the blip ends; Redis still holds model-a
        assert get_active_model("acme", "chat").id == b_id
        db.session.remove()


def test_database_error_in_the_middle_of_an_activation_leaves_nothing_half_done(
    make_provider, make_model, monkeypatch
):
    p = make_provider("acme")
    a = make_model(p, caps=["chat"], active=True)
    b = make_model(p, caps=["chat", "code"])
    a_id, b_id = a.id, b.id
    assert get_active_model("acme", "chat").id == a_id
    events_before = db.session.scalar(select(db.func.count()).select_from(AuditEvent))

    real_record_all = audit.record_all

    def failing_record_all(events):
        real_record_all(events[:1])  # the target's event is written…
        db.session.execute(text("SELECT * FROM no_such_table"))  # …then the loser's fails

    monkeypatch.setattr(audit, "record_all", failing_record_all)
    with pytest.raises(DBAPIError):
        activation.activate(b_id)
    monkeypatch.setattr(audit, "record_all", real_record_all)

    rows = db.session.execute(
        select(
            ModelCapability.model_id, ModelCapability.capability, ModelCapability.is_active
        ).order_by(ModelCapability.model_id, ModelCapability.capability)
    ).all()
    assert rows == [(a_id, "chat", True), (b_id, "chat", False), (b_id, "code", False)]
    assert db.session.scalar(select(db.func.count()).select_from(AuditEvent)) == events_before
    assert get_active_model("acme", "chat").id == a_id


def test_deadlock_is_retried_not_shown(make_provider, make_model):
    import psycopg

    p = make_provider("acme")
    m = make_model(p, caps=["chat"])
    attempts = {"n": 0}

    @transactional
    def flaky_activate():
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise OperationalError("UPDATE …", {}, psycopg.errors.DeadlockDetected("deadlock"))
        return activation.activate(m.id)

    result = flaky_activate()
    assert attempts["n"] == 2
    assert result.changed and get_active_model("acme", "chat").id == m.id


@pytest.fixture
def pg_acme(app_factory):
    """An app on a PostgreSQL database of its own with acme's two chat models: (app, url,
    model-a's id, model-b's id)."""
    url = support.create_database(support.PG_URL, f"mcp_fault_{os.getpid()}")
    try:
        app = app_factory(SQLALCHEMY_DATABASE_URI=url)
        with app.app_context():
            db.create_all()
            a_id, b_id = acme_with_two_chat_models()
            db.session.remove()
            yield app, url, a_id, b_id
            db.session.remove()
            db.engine.dispose()
    finally:
        support.drop_database(support.PG_URL, url)


def kill_connections(url: str) -> int:
    """What a PostgreSQL restart does to the pool: every connection to the database dies."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(support.PG_URL, autocommit=True) as admin_conn:
        killed = admin_conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()[0]
        # pg_terminate_backend only signals: wait until they are gone.
        for _ in range(100):
            left = admin_conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "AND pid <> pg_backend_pid()",
                (name,),
            ).fetchone()[0]
            if not left:
                break
            time.sleep(0.05)
    return killed


@pytest.mark.postgres
def test_killed_postgresql_connections_are_replaced(pg_acme):
    """A read pings its pooled connection first: the dead one is noticed and the next
    requests succeed."""
    app, url, a_id, _ = pg_acme
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    db.session.remove()  # the request shared this app context; end it as teardown would

    assert kill_connections(url) >= 1
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    cache.clear()
    assert get_active_model("acme", "chat").id == a_id
    activation.deactivate(a_id)
    assert get_active_model("acme", "chat") is None


@pytest.mark.postgres
def test_a_write_first_after_a_restart_runs_on_a_new_connection(pg_acme):
    """A write takes its pooled connection unpinged (one round trip less on every write):
    the dead connection fails its first statement and the write runs again on a new one."""
    app, url, _, b_id = pg_acme
    assert app.test_client().get("/readyz").status_code == 200  # a pooled connection
    db.session.remove()
    assert kill_connections(url) >= 1

    result = activation.activate(b_id)

    assert result.deactivated_count == 1
    db.session.remove()
    cache.clear()
    assert get_active_model("acme", "chat").id == b_id


@pytest.mark.postgres
def test_a_write_takes_no_ping_and_a_read_does(pg_acme, monkeypatch):
    app, _, _, b_id = pg_acme
    dialect = db.engine.dialect
    pings = []
    real_ping = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda conn: pings.append(1) or real_ping(conn))
    assert app.test_client().get("/readyz").status_code == 200  # the pool has a connection
    db.session.remove()
    pings.clear()

    activation.activate(b_id)
    db.session.remove()
    assert pings == []

    db.session.execute(text("SELECT 1"))
    db.session.remove()
    assert pings == [1]
