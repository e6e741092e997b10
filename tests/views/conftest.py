"""Fixtures of the models pages' tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def fresh_g_per_request(app):
    """The test's pushed app context is reused by every request; empty ``g`` after
    each one so one client's signed-in admin never leaks into another's request."""
    from flask import g

    def forget(_exc=None):
        for name in list(g):
            g.pop(name, None)

    app.teardown_request(forget)


@pytest.fixture
def two_providers(make_provider, make_model):
    """OpenRouter with GPT-4o (live for chat) and Claude (chat and code), Stability AI
    with SDXL: the catalogue the models page's tests add to."""
    openrouter = make_provider("openrouter", name="OpenRouter")
    gpt = make_model(openrouter, "gpt-4o", caps=["chat"], active=True, display_name="GPT-4o")
    claude = make_model(
        openrouter, "claude-3.5", caps=["chat", "code"], display_name="Claude 3.5 Sonnet"
    )
    other = make_provider("stability", name="Stability AI")
    sdxl = make_model(other, "sdxl", caps=["image"], display_name="Stable Diffusion XL")
    return {"p": openrouter, "gpt": gpt, "claude": claude, "other": other, "sdxl": sdxl}
