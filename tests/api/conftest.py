"""API fixtures: bearer tokens per role, a JSON client, a live server on 127.0.0.1."""

from __future__ import annotations

import re
import threading

import pytest
from flask import g, request_tearing_down
from sqlalchemy import event
from werkzeug.serving import make_server

from webapp.extensions import db as _db
from webapp.operations import admins

API = "/api/v1"
ROLES = ("viewer", "operator", "admin", "superadmin")


@pytest.fixture(autouse=True)
def _forget_user_between_requests(app):
    """The ``app`` fixture keeps one app context for the whole test, and flask-login
    caches the user on ``g`` (which belongs to it): without this, a second request
    would act as the first one's admin instead of authenticating again."""

    def forget(sender, **extra):
        g.pop("_login_user", None)

    request_tearing_down.connect(forget, app)
    yield
    request_tearing_down.disconnect(forget, app)


def csrf_header(client) -> dict[str, str]:
    """The ``X-CSRFToken`` header of a signed-in dashboard client (from any page's meta)."""
    page = client.get("/", follow_redirects=True)
    match = re.search(rb'name="csrf-token" content="([^"]+)"', page.data)
    assert match, page.data[:300]
    return {"X-CSRFToken": match.group(1).decode()}


@pytest.fixture
def token_for(make_admin):
    """``token_for("viewer")`` → the plaintext bearer token of a new admin of that role."""

    def make(role: str = "superadmin") -> str:
        admin = make_admin(role=role)
        _, plaintext = admins.create_token(admin, "tests")
        return plaintext

    return make


@pytest.fixture
def bearer(token_for):
    """``bearer("viewer")`` → the Authorization header of a new admin of that role."""

    def make(role: str = "superadmin") -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(role)}"}

    return make


@pytest.fixture
def api(client, bearer):
    """A test client acting as a superadmin through a bearer token."""
    headers = bearer("superadmin")

    def call(method: str, path: str, **kwargs):
        kwargs["headers"] = headers | kwargs.get("headers", {})
        return client.open(API + path, method=method, **kwargs)

    return call


@pytest.fixture
def group(make_provider, make_model):
    """The seed's openrouter provider: GPT-4o live for chat and code, two chat rivals."""
    openrouter = make_provider("openrouter", name="OpenRouter")
    gpt = make_model(
        openrouter,
        "gpt-4o",
        caps=["chat", "code"],
        active=True,
        model_id="openai/gpt-4o",
        display_name="GPT-4o",
    )
    claude = make_model(openrouter, "claude-3.5", caps=["chat"], display_name="Claude 3.5")
    llama = make_model(openrouter, "llama-3", caps=["chat", "code"], display_name="Llama 3")
    return {"provider": openrouter, "gpt": gpt, "claude": claude, "llama": llama}


@pytest.fixture
def live_server(app):
    """The test app served by a threaded werkzeug server on 127.0.0.1, a free port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    thread.join(5)


class QueryLog:
    """Every SQL statement the engine runs while active."""

    def __init__(self, engine):
        self.engine = engine
        self.statements: list[str] = []

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._record)


@pytest.fixture
def query_log(app):
    return lambda: QueryLog(_db.engine)


def envelope_ok(response, status: int = 200, message: str | None = None) -> dict:
    """Assert a success envelope; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["metaData"]["status"] == "success"
    assert "data" in body
    if message is not None:
        assert body["metaData"]["message"] == message
    return body


def envelope_error(response, status: int, message: str | None = None) -> dict:
    """Assert an error envelope (no data); return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["metaData"]["status"] == "error"
    assert isinstance(body["metaData"]["message"], str) and body["metaData"]["message"]
    assert "data" not in body
    if message is not None:
        assert body["metaData"]["message"] == message
    return body
