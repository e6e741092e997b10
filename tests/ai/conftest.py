"""Fixtures for the AI services: a real OpenAI-compatible server on loopback, fast retries."""

from __future__ import annotations

import pytest

from tests.ai.fake_provider import closed_port
from tests.ai.fixtures import FAST_PROVIDER_SETTINGS
from webapp.extensions import db as _db
from webapp.operations import admins

SHARED_KEY = "sk-shared-0123456789abcdef"
PERSONAL_KEY = "sk-personal-fedcba9876543210"


@pytest.fixture
def app(app_factory):
    """The suite's app with tiny back-off and timeouts, so retry tests stay fast."""
    app = app_factory(**FAST_PROVIDER_SETTINGS)
    with app.app_context():
        yield app
        _db.session.remove()


@pytest.fixture
def dead_url() -> str:
    return f"http://127.0.0.1:{closed_port()}/v1"


@pytest.fixture
def provider(make_provider, fake_provider):
    """A provider at the loopback server, with an enabled shared key."""
    return make_provider(
        "openrouter",
        name="OpenRouter",
        base_url=fake_provider.url,
        shared_api_enabled=True,
        shared_api_key=SHARED_KEY,
    )


@pytest.fixture
def give_personal_key():
    def give(admin, provider, key=PERSONAL_KEY, use_shared_api=False):
        return admins.save_provider_settings(
            admin, provider, personal_api_key=key, use_shared_api=use_shared_api
        )

    return give
