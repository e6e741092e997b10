"""Connections cut under the panel: by ``pg_terminate_backend`` in the middle of a
transaction, just before its COMMIT, after the answer was made, and by a restart of a
PostgreSQL server the test owns. A cut transaction is retried once on a new connection
when that is safe and answered 503 otherwise; nothing is half-written, nothing is 500.

The cuts go to this test's own database on the shared server (only its own backends
are terminated); the restart goes to a private cluster.
"""

from __future__ import annotations

import logging
import time

import psycopg
import pytest
from sqlalchemy import event, func, select

from tests import support
from tests.conftest import make_config
from webapp import create_app
from webapp.extensions import db
from webapp.models import AIModel, AuditEvent, ModelCapability
from webapp.operations import admins, audit
from webapp.outage import state

PERSIAN = "پایگاه داده در دسترس نیست؛ چند لحظه دیگر دوباره تلاش کنید"


@pytest.fixture(autouse=True)
def _fresh_state():
    state.reset()
    yield
    state.reset()


@pytest.fixture
def pg_app(app_factory):
    """An app on a database of this test's own on the shared PostgreSQL."""
    with support.app_on_own_database(app_factory, "mcp_cut") as app, app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def catalog(pg_app):
    """``acme``: model ``a`` live for chat, ``b`` waiting; a superadmin's headers."""
    make_provider = support.ProviderFactory()
    acme = make_provider("acme")
    make_model = support.ModelFactory(make_provider)
    a = make_model(acme, "a", caps=["chat"], active=True)
    b = make_model(acme, "b", caps=["chat"])
    _, plaintext = admins.create_token(support.AdminFactory()("superadmin"), "cuts")
    return {"a": a.id, "b": b.id, "headers": {"Authorization": f"Bearer {plaintext}"}}


@pytest.fixture
def client(pg_app):
    return pg_app.test_client()


def terminate(pid: int) -> None:
    """End one backend of the shared server and wait until it is gone."""
    with psycopg.connect(support.PG_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        alive = "SELECT 1 FROM pg_stat_activity WHERE pid = %s"
        for _ in range(500):
            if not admin.execute(alive, (pid,)).fetchone():
                return
            time.sleep(0.01)
    raise AssertionError(f"backend {pid} did not go away")


def backend_pid(connection) -> int:
    return connection.connection.dbapi_connection.info.backend_pid


class CutAtCommit:
    """Terminates the backend just before the engine sends COMMIT for a transaction that
    wrote to the history (an operation's, not a token's bookkeeping or the test's own
    between requests), ``times`` times."""

    def __init__(self, engine, times: int = 1) -> None:
        self.engine, self.left, self.cuts = engine, times, 0
        self.wrote_history = False

    def statement(self, conn, cursor, statement, *args) -> None:
        if statement.startswith("INSERT INTO audit_event"):
            self.wrote_history = True

    def commit(self, conn) -> None:
        if self.left and self.wrote_history:
            self.left -= 1
            self.cuts += 1
            terminate(backend_pid(conn))
        self.wrote_history = False

    def __enter__(self) -> CutAtCommit:
        event.listen(self.engine, "before_cursor_execute", self.statement)
        event.listen(self.engine, "commit", self.commit)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self.statement)
        event.remove(self.engine, "commit", self.commit)


def active_chat() -> list[int]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(ModelCapability.model_id).where(
                ModelCapability.is_active, ModelCapability.capability == "chat"
            )
        )
    )


def events(action: str, target_id: int | None = None) -> int:
    query = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    if target_id is not None:
        query = query.where(AuditEvent.target_id == target_id)
    return db.session.scalar(query)


@pytest.mark.postgres
def test_a_cut_in_the_middle_is_retried_on_a_new_connection(catalog, client, monkeypatch):
    real_record = audit.record_all  # a switch writes its audit events in one statement
    cuts = []

    def record_then_cut(*args, **kwargs):
        result = real_record(*args, **kwargs)
        if not cuts:  # the first attempt loses its connection after writing its first row
            cuts.append(backend_pid(db.session.connection()))
            terminate(cuts[-1])
        return result

    monkeypatch.setattr(audit, "record_all", record_then_cut)
    response = client.patch(
        f"{support.API}/ai-models/{catalog['b']}/",
        json={"is_active": True},
        headers=catalog["headers"],
    )
    assert response.status_code == 200, response.json
    assert len(cuts) == 1
    assert active_chat() == [catalog["b"]]
    # The cut attempt left nothing: one activation, one deactivation in the history.
    assert events("model.activate", catalog["b"]) == 1
    assert events("model.deactivate", catalog["a"]) == 1


@pytest.mark.postgres
def test_a_cut_at_commit_of_a_switch_is_retried(catalog, client):
    with CutAtCommit(db.engine) as cut:
        response = client.patch(
            f"{support.API}/ai-models/{catalog['b']}/",
            json={"is_active": True},
            headers=catalog["headers"],
        )
    assert response.status_code == 200, response.json
    assert cut.cuts == 1
    assert active_chat() == [catalog["b"]]
    assert events("model.activate", catalog["b"]) == 1


@pytest.mark.postgres
def test_a_cut_at_commit_of_a_creation_is_reported_and_writes_nothing(catalog, client):
    body = {"provider": "acme", "name": "c", "model_id": "vendor/c", "display_name": "C"}
    body["capabilities"] = ["chat"]
    before = events("model.create")
    with CutAtCommit(db.engine) as cut:
        response = client.post(f"{support.API}/ai-models/", json=body, headers=catalog["headers"])
    # Whether the server committed is unknown after a cut at COMMIT: a creation run
    # again could make a second one, so it is reported, not retried.
    assert response.status_code == 503, response.json
    assert cut.cuts == 1
    assert response.headers["Retry-After"]
    assert response.json["metaData"] == {"status": "error", "message": PERSIAN}
    db.session.expire_all()
    assert db.session.scalar(select(AIModel).where(AIModel.name == "c")) is None
    assert events("model.create") == before
    again = client.post(f"{support.API}/ai-models/", json=body, headers=catalog["headers"])
    assert again.status_code == 201, again.json


@pytest.mark.postgres
def test_a_second_cut_is_not_retried(catalog, client):
    with CutAtCommit(db.engine, times=5) as cut:
        response = client.patch(
            f"{support.API}/ai-models/{catalog['b']}/",
            json={"is_active": True},
            headers=catalog["headers"],
        )
    assert response.status_code == 503, response.json
    assert response.json["metaData"]["message"] == PERSIAN
    assert cut.cuts == 2  # the first attempt and its one retry
    assert active_chat() == [catalog["a"]]
    assert events("model.activate", catalog["b"]) == 0


@pytest.mark.postgres
def test_a_connection_cut_after_the_answer_is_not_a_500(catalog, pg_app, client, caplog):
    """The server goes between the request's last statement and the session's ROLLBACK."""
    url = f"{support.API}/ai-models/{catalog['a']}/"
    cut = []

    @pg_app.after_request
    def cut_once(response):
        if not cut and db.session().in_transaction():
            cut.append(backend_pid(db.session.connection()))
            terminate(cut[-1])
        return response

    with caplog.at_level(logging.WARNING, logger="webapp.outage"):
        response = client.get(url, headers=catalog["headers"])
        assert response.status_code == 200, response.json
        assert cut
        assert client.get(url, headers=catalog["headers"]).status_code == 200
    assert "Traceback" not in caplog.text


@pytest.mark.slow
@pytest.mark.postgres
def test_after_a_restart_the_next_requests_succeed(private_postgres, caplog):
    """Every pooled connection dies with the server: the pool's check on checkout
    replaces them, so the first request after the restart already succeeds."""
    app = create_app(make_config(private_postgres.url))
    with app.app_context():
        db.create_all()
        make_provider = support.ProviderFactory()
        make_model = support.ModelFactory(make_provider)
        acme = make_provider("acme")
        a = make_model(acme, "a", caps=["chat"], active=True).id
        b = make_model(acme, "b", caps=["chat"]).id
        _, plaintext = admins.create_token(support.AdminFactory()("superadmin"), "t")
        db.session.remove()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {plaintext}"}
    # Several requests at once would hold several connections; one after the other
    # reuse one. Either way the pool holds connections opened before the restart.
    assert client.get("/readyz").status_code == 200
    assert client.get(f"{support.API}/ai-models/{a}/", headers=headers).status_code == 200
    with app.app_context():
        held = db.engine.pool.checkedin()
    assert held >= 1
    private_postgres.restart()
    with caplog.at_level(logging.WARNING, logger="webapp.outage"):
        assert client.get("/readyz").status_code == 200
        switched = client.patch(
            f"{support.API}/ai-models/{b}/", json={"is_active": True}, headers=headers
        )
        assert switched.status_code == 200, switched.json
    assert "database unavailable" not in caplog.text  # nobody was told to try again
    with app.app_context():
        assert (
            db.session.scalar(select(ModelCapability.model_id).where(ModelCapability.is_active))
            == b
        )
        db.session.remove()
        db.engine.dispose()


@pytest.mark.postgres
def test_a_write_after_a_read_keeps_the_connection_and_reads_its_rows_afresh(pg_app):
    """On PostgreSQL the request's read transaction goes on as the write one (no second
    checkout, ping and BEGIN), yet what it loaded is expired: the write sees a change
    another connection committed in between, not the copy it loaded."""
    from webapp.db import transactional
    from webapp.models import Provider

    provider_id = support.ProviderFactory()("acme").id
    db.session.remove()
    assert db.session.get(Provider, provider_id).name != "Renamed"  # the read transaction
    with db.engine.connect() as other:
        other.execute(Provider.__table__.update().values(name="Renamed"))
        other.commit()
    checkouts = []

    def checked_out(*args) -> None:
        checkouts.append(1)

    @transactional
    def name_under_lock() -> str:
        return (
            db.session.scalars(select(Provider).where(Provider.id == provider_id).with_for_update())
            .one()
            .name
        )

    event.listen(db.engine, "checkout", checked_out)
    try:
        assert name_under_lock() == "Renamed"
    finally:
        event.remove(db.engine, "checkout", checked_out)
    assert checkouts == []
