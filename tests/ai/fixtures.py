"""The loopback provider and fast-retry settings, shared by tests/ai and tests/e2e
(registered for the whole suite in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.ai.fake_provider import FakeProvider, closed_port
from tests.support import (
    FAST_PROVIDER_SETTINGS,  # noqa: F401  (imported from here by tests)
    SHARED_KEY,
)
from webapp.operations import routing


@pytest.fixture(scope="session")
def _fake_server():
    server = FakeProvider().start()
    yield server
    server.stop()


@pytest.fixture
def fake_provider(_fake_server):
    """The loopback provider, with no script and no recorded request."""
    _fake_server.reset()
    yield _fake_server
    _fake_server.reset()


def dead_group(backup_id: int, make_provider, make_model) -> str:
    """Provider ``dead``, where nobody listens, its live chat model ``dead/model`` falling
    back to the model ``backup_id``; returns its slug."""
    dead = make_provider(
        "dead",
        base_url=f"http://127.0.0.1:{closed_port()}/v1",
        shared_api_enabled=True,
        shared_api_key=SHARED_KEY,
    )
    make_model(dead, "model", caps=["chat"], active=True, model_id="dead/model")
    routing.set_routing(dead.id, "chat", [backup_id], [])
    return "dead"
