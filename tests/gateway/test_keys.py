"""Which key the provider sees (DESIGN.md §2 through the gateway), and who may call."""

from __future__ import annotations

import openai
import pytest

from tests.support import PERSONAL_KEY, SHARED_KEY
from webapp.operations import admins, catalog

HI = [{"role": "user", "content": "سلام"}]


def seen_key(fake_provider) -> str:
    (seen,) = fake_provider.seen("/chat/completions")
    return seen.authorization


def test_a_personal_key_comes_first(sdk, role_token, catalogue, provider, fake_provider):
    admin, token = role_token("operator")
    admins.save_provider_settings(admin, provider, personal_api_key=PERSONAL_KEY)

    sdk(token).chat.completions.create(model="openrouter", messages=HI)

    assert seen_key(fake_provider) == f"Bearer {PERSONAL_KEY}"


def test_choosing_the_shared_key_over_ones_own(sdk, role_token, catalogue, provider, fake_provider):
    admin, token = role_token("operator")
    admins.save_provider_settings(
        admin, provider, personal_api_key=PERSONAL_KEY, use_shared_api=True
    )

    sdk(token).chat.completions.create(model="openrouter", messages=HI)

    assert seen_key(fake_provider) == f"Bearer {SHARED_KEY}"


def test_the_shared_key_for_an_admin_who_may_use_it(sdk, role_token, catalogue, fake_provider):
    _, token = role_token("operator")
    sdk(token).chat.completions.create(model="openrouter", messages=HI)
    assert seen_key(fake_provider) == f"Bearer {SHARED_KEY}"


def test_a_service_account_uses_the_shared_key(sdk, role_token, catalogue, fake_provider):
    _, token = role_token("service")
    answer = sdk(token).chat.completions.create(model="openrouter", messages=HI)
    assert answer.model == "openai/gpt-4o"
    assert seen_key(fake_provider) == f"Bearer {SHARED_KEY}"


def test_a_viewer_with_a_personal_key_may_call(sdk, role_token, catalogue, provider, fake_provider):
    admin, token = role_token("viewer")
    admins.save_provider_settings(admin, provider, personal_api_key=PERSONAL_KEY)
    sdk(token).chat.completions.create(model="openrouter", messages=HI)
    assert seen_key(fake_provider) == f"Bearer {PERSONAL_KEY}"


@pytest.mark.parametrize("role", ["viewer", "operator", "service"])
def test_no_usable_key_is_403_and_nothing_is_sent(
    sdk, role_token, catalogue, provider, fake_provider, role
):
    catalog.update_provider(provider, {"shared_api_enabled": False}, actor="test")
    _, token = role_token(role)

    with pytest.raises(openai.PermissionDeniedError) as caught:
        sdk(token).chat.completions.create(model="openrouter", messages=HI)

    assert caught.value.response.json()["error"]["code"] == "no_api_access"
    assert fake_provider.seen() == []


def test_a_disabled_admins_token_is_refused(sdk, role_token, catalogue, fake_provider):
    admin, token = role_token("service")
    admins.update_admin(admin, is_enabled=False)
    with pytest.raises(openai.AuthenticationError):
        sdk(token).chat.completions.create(model="openrouter", messages=HI)
    assert fake_provider.seen() == []


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("viewer", False),
        ("operator", True),
        ("admin", True),
        ("superadmin", True),
        ("service", True),
    ],
)
def test_every_role_with_the_shared_key(sdk, role_token, catalogue, fake_provider, role, allowed):
    """Calling needs an enabled admin's token; the key rule (use_shared_api) decides the rest."""
    _, token = role_token(role)
    client = sdk(token)
    assert client.models.list().data  # every role may list the names
    if allowed:
        client.chat.completions.create(model="openrouter", messages=HI)
        assert len(fake_provider.seen()) == 1
    else:
        with pytest.raises(openai.PermissionDeniedError):
            client.chat.completions.create(model="openrouter", messages=HI)
        assert fake_provider.seen() == []
