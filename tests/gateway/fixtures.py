"""The gateway under test: the app on the live server, the loopback provider behind it, and
the official ``openai`` SDK as the client (registered for the suite in tests/conftest.py)."""

from __future__ import annotations

import time

import openai
import pytest
from sqlalchemy import select

from webapp.extensions import db as _db
from webapp.metering import flush_all
from webapp.models import UsageCall
from webapp.operations import admins


@pytest.fixture
def base_url(live_server) -> str:
    return live_server.url + "/v1"


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
def role_token(make_admin):
    """``role_token("operator")`` → (admin, plaintext token) of a new admin of that role."""

    def make(role: str = "operator"):
        admin = make_admin(role=role)
        _, plaintext = admins.create_token(admin, "gateway tests")
        return admin, plaintext

    return make


@pytest.fixture
def sdk(base_url, role_token):
    """``sdk()`` → an ``openai.OpenAI`` client with a new operator's token (or ``token=``)."""

    def make(token: str | None = None, **kwargs) -> openai.OpenAI:
        if token is None:
            _, token = role_token("operator")
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
