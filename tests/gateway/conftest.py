"""The gateway under test: the app on a live server (a threaded werkzeug server on
127.0.0.1, port 0), the loopback provider behind it, and the official ``openai`` SDK as
the client."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import openai
import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from tests.ai.fixtures import FAST_PROVIDER_SETTINGS
from webapp.extensions import db as _db
from webapp.metering import current_meter, flush_all
from webapp.models import UsageCall
from webapp.operations import admins

SHARED_KEY = "sk-shared-0123456789abcdef"
PERSONAL_KEY = "sk-personal-fedcba9876543210"
GATEWAY_SETTINGS = FAST_PROVIDER_SETTINGS | {"GATEWAY_TIMEOUT": 3.0}


class LiveServer:
    def __init__(self, app):
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()


@pytest.fixture
def app(app_factory):
    app = app_factory(**GATEWAY_SETTINGS)
    with app.app_context():
        yield app
        # Rows still buffered (or recorded late by a server thread) must not land in the
        # next test's database (one PostgreSQL database serves the whole run).
        current_meter().close()
        _db.session.remove()


@pytest.fixture
def live(app) -> Iterator[LiveServer]:
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture
def base_url(live) -> str:
    return live.url + "/v1"


@pytest.fixture
def provider(make_provider, fake_provider):
    """OpenRouter at the loopback provider, with an enabled shared key."""
    return make_provider(
        "openrouter",
        name="OpenRouter",
        base_url=fake_provider.url,
        shared_api_enabled=True,
        shared_api_key=SHARED_KEY,
    )


@pytest.fixture
def catalogue(provider, make_model):
    """GPT-4o live for chat and code, Claude registered but not live, an embedding model
    and an image model live for theirs."""
    return {
        "gpt": make_model(
            provider, "gpt-4o", caps=["chat", "code"], active=True, model_id="openai/gpt-4o"
        ),
        "claude": make_model(
            provider, "claude-3.5-sonnet", caps=["chat"], model_id="anthropic/claude-3.5-sonnet"
        ),
        "embed": make_model(
            provider,
            "embed-small",
            caps=["embedding"],
            active=True,
            model_id="openai/text-embedding-3-small",
        ),
        "image": make_model(
            provider, "image-gen", caps=["image"], active=True, model_id="openai/dall-e-3"
        ),
    }


@pytest.fixture
def token_for(make_admin):
    """``token_for("operator")`` → (admin, plaintext token) of a new admin of that role."""

    def make(role: str = "operator"):
        admin = make_admin(role=role)
        _, plaintext = admins.create_token(admin, "gateway tests")
        return admin, plaintext

    return make


@pytest.fixture
def sdk(base_url, token_for):
    """``sdk()`` → an ``openai.OpenAI`` client with a new operator's token (or ``token=``)."""

    def make(token: str | None = None, **kwargs) -> openai.OpenAI:
        if token is None:
            _, token = token_for("operator")
        options = {"max_retries": 0, "timeout": 10.0} | kwargs
        return openai.OpenAI(base_url=base_url, api_key=token, **options)

    return make


@pytest.fixture
def usage_rows():
    """The usage rows written so far (the buffer flushed first)."""

    def read(expect: int = 1, wait: float = 3.0) -> list[UsageCall]:
        """Waits (up to ``wait`` s) for ``expect`` rows: a call is metered by the server's
        thread, which may finish just after the client saw the answer end."""
        deadline = time.monotonic() + wait
        while True:
            flush_all()
            _db.session.rollback()
            _db.session.expire_all()
            rows = list(_db.session.scalars(select(UsageCall).order_by(UsageCall.id)))
            if len(rows) >= expect or time.monotonic() > deadline:
                return rows
            time.sleep(0.02)

    return read
