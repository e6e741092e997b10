"""The loopback provider and fast-retry settings, shared by tests/ai and tests/e2e
(registered for the whole suite in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.ai.fake_provider import FakeProvider
from tests.support import FAST_PROVIDER_SETTINGS  # noqa: F401  (imported from here by tests)


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
