"""A database that is away or locked: cached reads keep answering, the rest is 503."""

from __future__ import annotations

import logging
import sqlite3
import time

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from tests import support
from tests.conftest import make_config
from webapp import create_app, outage
from webapp import db as webapp_db
from webapp.extensions import db
from webapp.models import ModelCapability
from webapp.operations import admins, sessions
from webapp.outage import state
from webapp.queries import lookup, tokens

PERSIAN = "پایگاه داده در دسترس نیست؛ چند لحظه دیگر دوباره تلاش کنید"
ACTIVE = "/api/v1/ai-models/active_model/?provider=acme&capability=chat"


def _gone(*_args, **_kwargs):
    raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))


@pytest.fixture(autouse=True)
def _fresh_state():
    state.reset()
    yield
    state.reset()


def _catalog_and_token():
    """An active model of ``acme`` and a superadmin's token; returns (model id, token)."""
    admin = support.AdminFactory()(role="superadmin")
    _, plaintext = admins.create_token(admin, "outage")
    make_provider = support.ProviderFactory()
    provider = make_provider("acme")
    model = support.ModelFactory(make_provider)(provider, "m", caps=["chat"], active=True)
    return model.id, plaintext


def test_a_known_token_is_checked_without_a_query(app, client):
    _, plaintext = _catalog_and_token()
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert client.get(ACTIVE, headers=headers).status_code == 200
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert client.get(ACTIVE, headers=headers).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert [s for s in statements if "api_token" in s] == []


def test_a_revoked_token_is_refused_within_a_second(app, client, monkeypatch):
    _, plaintext = _catalog_and_token()
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert client.get(ACTIVE, headers=headers).status_code == 200
    token = db.session.scalar(db.select(admins.ApiToken))
    admins.revoke_token(token.id)
    # Another worker's clock: it trusts its last generation for GENERATION_MAX_AGE.
    monkeypatch.setattr(lookup, "GENERATION_MAX_AGE", 0.0)
    assert client.get(ACTIVE, headers=headers).status_code == 401


def test_a_role_change_reaches_the_token_cache(app, client, monkeypatch):
    _, plaintext = _catalog_and_token()
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert client.get(ACTIVE, headers=headers).status_code == 200
    support.AdminFactory()(role="superadmin")  # someone must still manage admins
    admin = db.session.scalar(db.select(admins.Admin).order_by(admins.Admin.id))
    admins.update_admin(admin, is_enabled=False)
    monkeypatch.setattr(lookup, "GENERATION_MAX_AGE", 0.0)
    assert client.get(ACTIVE, headers=headers).status_code == 401
    assert tokens.live_token(admins.hash_token(plaintext)) is None


def test_the_dashboard_says_so_in_persian_and_logs_one_line(login_as, monkeypatch, caplog):
    client = login_as("superadmin")
    monkeypatch.setattr(sessions, "load", _gone)
    # The test harness's own statements between requests reach the database, which is
    # really up here: only the app's requests see it "gone".
    monkeypatch.setattr(outage.state, "came_back", lambda: None)
    with caplog.at_level(logging.WARNING, logger="webapp.outage"):
        for _ in range(3):
            response = client.get("/models")
            assert response.status_code == 503
            assert response.headers["Retry-After"]
            assert PERSIAN in response.get_data(as_text=True)
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1
    assert "Traceback" not in caplog.text


def test_the_api_and_the_gateway_answer_503_in_their_shapes(app, client, monkeypatch):
    _, plaintext = _catalog_and_token()
    headers = {"Authorization": f"Bearer {plaintext}"}
    monkeypatch.setattr(tokens, "live_token", _gone)
    api = client.get("/api/v1/ai-models/", headers=headers)
    assert api.status_code == 503 and api.headers["Retry-After"]
    assert api.json["metaData"] == {"status": "error", "message": PERSIAN}
    gateway = client.get("/v1/models", headers=headers)
    assert gateway.status_code == 503 and gateway.headers["Retry-After"]
    assert gateway.json["error"]["code"] == "service_unavailable"
    assert gateway.json["error"]["message"] == PERSIAN


def test_a_locked_sqlite_database_answers_503(monkeypatch, tmp_path):
    # Always SQLite (its own lock), whatever database the rest of the suite runs on.
    monkeypatch.setattr(webapp_db, "SQLITE_BUSY_TIMEOUT_S", 0.2)
    app = create_app(make_config(f"sqlite:///{tmp_path / 'test.db'}"))
    with app.app_context():
        db.create_all()
        model_id, plaintext = _catalog_and_token()
        db.session.remove()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert client.get(ACTIVE, headers=headers).status_code == 200
    writer = sqlite3.connect(tmp_path / "test.db")
    writer.execute("BEGIN IMMEDIATE")  # the long writer
    try:
        response = client.patch(
            f"/api/v1/ai-models/{model_id}/", json={"is_active": False}, headers=headers
        )
        assert response.status_code == 503, response.data
        assert response.headers["Retry-After"]
        assert response.json["metaData"]["message"] == PERSIAN
        assert client.get(ACTIVE, headers=headers).status_code == 200  # cached read
    finally:
        writer.rollback()
        writer.close()
    ok = client.patch(f"/api/v1/ai-models/{model_id}/", json={"is_active": False}, headers=headers)
    assert ok.status_code == 200


# --- a PostgreSQL server this test owns, stopped in the middle ---------------------------


@pytest.mark.slow
@pytest.mark.postgres
def test_a_stopped_postgresql_degrades_instead_of_breaking(private_postgres, caplog):
    app = create_app(make_config(private_postgres.url))
    client = app.test_client()
    with app.app_context():
        db.create_all()
        model_id, plaintext = _catalog_and_token()
        support.AdminFactory()(role="superadmin", username="boss")
        db.session.remove()
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert client.get(ACTIVE, headers=headers).status_code == 200
    support.sign_in(client, "boss")
    private_postgres.stop()
    time.sleep(lookup.GENERATION_MAX_AGE + 0.1)  # the generation is read again, and fails
    with caplog.at_level(logging.WARNING, logger="webapp.outage"):
        for _ in range(3):
            assert client.get(ACTIVE, headers=headers).status_code == 200
        write = client.patch(
            f"/api/v1/ai-models/{model_id}/", json={"is_active": False}, headers=headers
        )
        assert write.status_code == 503 and write.headers["Retry-After"]
        assert write.json["metaData"]["message"] == PERSIAN
        page = client.get("/models")
        assert page.status_code == 503 and PERSIAN in page.get_data(as_text=True)
        private_postgres.start()
        back = client.patch(
            f"/api/v1/ai-models/{model_id}/", json={"is_active": False}, headers=headers
        )
        assert back.status_code == 200
    lines = [r.getMessage() for r in caplog.records]
    assert len([m for m in lines if "database unavailable" in m]) == 1
    assert len([m for m in lines if "database available again" in m]) == 1
    with app.app_context():
        db.engine.dispose()


def test_a_switch_that_cannot_commit_says_so_and_changes_nothing(monkeypatch, tmp_path):
    """The models page's switch while a long writer holds SQLite's lock: the answer is
    the Persian message alone, out of band into the alert area, with nothing swapped
    (an error answer makes the page's script put the group's radios back)."""
    monkeypatch.setattr(webapp_db, "SQLITE_BUSY_TIMEOUT_S", 0.2)
    app = create_app(make_config(f"sqlite:///{tmp_path / 'test.db'}"))
    with app.app_context():
        db.create_all()
        make_provider = support.ProviderFactory()
        acme = make_provider("acme")
        acme_id = acme.id
        make_model = support.ModelFactory(make_provider)
        live = make_model(acme, "live", caps=["chat"], active=True).id
        other = make_model(acme, "other", caps=["chat"]).id
        support.AdminFactory()(role="operator", username="op")
        db.session.remove()
    client = app.test_client()
    support.sign_in(client, "op")
    headers = {"HX-Request": "true", "X-CSRFToken": support.csrf_token(client, "/models")}
    data = {"provider": str(acme_id), "capability": "chat", "model": str(other), "confirm": "1"}
    writer = sqlite3.connect(tmp_path / "test.db")
    writer.execute("BEGIN IMMEDIATE")  # the long writer
    try:
        response = client.post("/models/choose", data=data, headers=headers)
    finally:
        writer.rollback()
        writer.close()
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.headers["HX-Reswap"] == "none"
    html = response.get_data(as_text=True)
    assert "<html" not in html  # not the whole page into the group
    alert = html[html.index('id="flash-alert"') :]
    assert 'hx-swap-oob="innerHTML"' in alert[:80]
    assert PERSIAN in alert
    with app.app_context():
        active = db.session.scalars(
            db.select(ModelCapability.model_id).where(ModelCapability.is_active)
        ).all()
        assert active == [live]
        db.session.remove()
    # Once the writer is gone the same switch goes through.
    assert client.post("/models/choose", data=data, headers=headers).status_code == 200
