"""Keys stay with the server they were given for.

The attack: an ``admin`` (not superadmin) changes only a provider's ``base_url`` to a host
they control, then runs "test connection" (the shared key would arrive there) and waits for
other admins' calls (their personal keys and prompts would). Here the "other host" is the
loopback provider under another name (``localhost`` instead of ``127.0.0.1``): another
origin, the same server, so every request that would have leaked is counted.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests.support import SHARED_KEY, csrf_token, shared_key_on
from webapp.ai import calls
from webapp.errors import NoApiAccess
from webapp.extensions import db as _db
from webapp.models import AdminProviderSettings, AuditEvent, Provider
from webapp.operations import admins, catalog
from webapp.queries import credentials

API = "/api/v1/ai-providers"
BOSS_KEY = "sk-boss-personal-0011223344"


@pytest.fixture
def provider(make_provider, make_model, fake_provider):
    p = make_provider(
        "openrouter",
        name="OpenRouter",
        base_url=fake_provider.url,
        **shared_key_on(),
    )
    make_model(p, "gpt", caps=["chat"], active=True, model_id="openai/gpt-4o")
    return p


@pytest.fixture
def elsewhere(fake_provider) -> str:
    """The same loopback server at another origin (the attacker's host, for the test)."""
    return fake_provider.url.replace("127.0.0.1", "localhost")


def _bearer(admin) -> dict:
    _, token = admins.create_token(admin, "tests")
    return {"Authorization": f"Bearer {token}"}


def _fresh(slug="openrouter") -> Provider:
    _db.session.expire_all()
    return _db.session.scalar(select(Provider).where(Provider.slug == slug))


def _events(action: str) -> list[AuditEvent]:
    _db.session.expire_all()
    return list(
        _db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


# --- the shared key --------------------------------------------------------------------


def test_moving_base_url_to_another_origin_clears_the_shared_key(
    client, make_admin, provider, elsewhere, fake_provider
):
    attacker = make_admin("admin")

    response = client.patch(
        f"{API}/openrouter/", json={"base_url": elsewhere}, headers=_bearer(attacker)
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["data"]["has_shared_api_key"] is False
    assert body["data"]["shared_api_key_hint"] == ""
    assert "کلید مشترک حذف شد" in body["metaData"]["message"]
    assert not _fresh().has_shared_api_key
    # "Test connection" now has no key to send, so nothing reaches the new host.
    check = calls.check_connection("openrouter", attacker)
    assert not check.ok and check.error_kind == "no_api_access"
    assert fake_provider.requests == []
    (event,) = [e for e in _events("provider.update") if e.after.get("origin_changed")]
    assert event.after["shared_api_key_cleared"] is True
    assert event.actor_id == attacker.id


def test_a_new_key_in_the_same_request_moves_with_the_address(
    client, make_admin, provider, elsewhere, fake_provider
):
    response = client.patch(
        f"{API}/openrouter/",
        json={"base_url": elsewhere, "shared_api_key": "sk-new-shared-99887766"},
        headers=_bearer(make_admin("admin")),
    )

    assert response.status_code == 200
    assert response.get_json()["data"]["shared_api_key_hint"] == "…7766"
    assert "کلید مشترک حذف شد" not in response.get_json()["metaData"]["message"]
    calls.check_connection("openrouter")
    assert fake_provider.requests[0].authorization == "Bearer sk-new-shared-99887766"


@pytest.mark.parametrize(
    "change",
    [
        lambda url: url + "/",  # trailing slash
        lambda url: url.replace("/v1", "/v2"),  # another path, same server
        lambda url: url.replace("http://", "HTTP://"),  # the scheme's case
    ],
)
def test_the_same_origin_keeps_the_shared_key(client, make_admin, provider, change):
    response = client.patch(
        f"{API}/openrouter/",
        json={"base_url": change(provider.base_url)},
        headers=_bearer(make_admin("admin")),
    )
    assert response.status_code == 200
    assert "کلید مشترک" not in response.get_json()["metaData"]["message"]
    assert _fresh().has_shared_api_key


@pytest.mark.parametrize("part", ["scheme", "port"])
def test_scheme_or_port_is_another_origin(make_admin, provider, part):
    url = provider.base_url
    port = urlsplit(url).port
    moved = (
        url.replace("http://", "https://") if part == "scheme" else url.replace(f":{port}", ":1")
    )
    catalog.update_provider(provider, {"base_url": moved}, actor=make_admin("admin"))
    assert not _fresh().has_shared_api_key


def test_dashboard_edit_says_the_shared_key_was_removed(login_as, provider, elsewhere):
    client = login_as("admin")
    path = f"/providers/{provider.id}/edit"
    token = csrf_token(client, path)

    response = client.post(
        path,
        data={
            "csrf_token": token,
            "slug": "openrouter",
            "name": "OpenRouter",
            "base_url": elsewhere,
            "is_enabled": "y",
            "shared_api_enabled": "y",
        },
        follow_redirects=True,
    )

    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "کلید مشترک حذف شد" in body
    assert not _fresh().has_shared_api_key


# --- personal keys ---------------------------------------------------------------------


def test_personal_keys_are_held_back_after_the_move_and_nothing_reaches_the_new_host(
    client, make_admin, provider, elsewhere, fake_provider
):
    boss = make_admin("superadmin", username="boss")
    admins.save_provider_settings(boss, provider, personal_api_key=BOSS_KEY)
    settings = _db.session.scalar(select(AdminProviderSettings))
    assert (
        settings.personal_api_key_origin == f"http://127.0.0.1:{urlsplit(provider.base_url).port}"
    )
    attacker = make_admin("admin")

    response = client.patch(
        f"{API}/openrouter/", json={"base_url": elsewhere}, headers=_bearer(attacker)
    )

    assert response.status_code == 200
    assert "1 کلید شخصی" in response.get_json()["metaData"]["message"]
    # The boss's next call: their key is held back, the shared key is gone → no request.
    with pytest.raises(NoApiAccess) as caught:
        calls.chat("openrouter", "a secret prompt", admin=boss)
    assert "کلیدهای من" in str(caught.value)
    assert fake_provider.requests == []
    decision = credentials.explain(_fresh(), boss)
    assert decision.source is None and decision.personal_key_on_hold
    (event,) = [e for e in _events("provider.update") if e.after.get("origin_changed")]
    assert event.after["personal_keys_on_hold"] == 1


def test_a_held_back_key_falls_to_the_shared_key(make_admin, provider, elsewhere, fake_provider):
    boss = make_admin("superadmin")
    admins.save_provider_settings(boss, provider, personal_api_key=BOSS_KEY)
    catalog.update_provider(
        provider, {"base_url": elsewhere, "shared_api_key": SHARED_KEY}, actor="test"
    )

    calls.chat("openrouter", "hi", admin=boss)

    assert [r.authorization for r in fake_provider.requests] == [f"Bearer {SHARED_KEY}"]
    assert credentials.explain(_fresh(), boss).personal_key_on_hold


def test_moving_back_to_the_old_origin_releases_the_key(
    make_admin, provider, elsewhere, fake_provider
):
    boss = make_admin("superadmin")
    original = provider.base_url
    admins.save_provider_settings(boss, provider, personal_api_key=BOSS_KEY)
    catalog.update_provider(provider, {"base_url": elsewhere}, actor="test")
    catalog.update_provider(provider, {"base_url": original}, actor="test")

    calls.chat("openrouter", "hi", admin=boss)

    assert fake_provider.requests[0].authorization == f"Bearer {BOSS_KEY}"


def test_keys_page_explains_and_confirms_for_the_new_origin(
    login_as, provider, elsewhere, fake_provider
):
    client = login_as("superadmin")
    boss = client.admin
    admins.save_provider_settings(boss, provider, personal_api_key=BOSS_KEY)
    page = client.get("/keys").get_data(as_text=True)
    assert "data-key-on-hold" not in page

    catalog.update_provider(provider, {"base_url": elsewhere}, actor="test")
    page = client.get("/keys").get_data(as_text=True)
    assert "data-key-on-hold" in page
    assert "localhost" in page and "127.0.0.1" in page  # saved for / address now
    assert 'data-key-source="none"' in page
    assert BOSS_KEY not in page

    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post(
        f"/keys/{provider.id}/confirm", data={"csrf_token": token}, follow_redirects=True
    )

    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "data-key-on-hold" not in body
    assert 'data-key-source="personal"' in body
    calls.chat("openrouter", "hi", admin=boss)
    assert fake_provider.requests[0].authorization == f"Bearer {BOSS_KEY}"
    (event,) = [
        e for e in _events("settings.update") if "personal_api_key_origin" in (e.after or {})
    ]
    assert event.after["personal_api_key_origin"].startswith("http://localhost:")
    assert event.before["personal_api_key_origin"].startswith("http://127.0.0.1:")
    history = client.get("/history").get_data(as_text=True)
    assert "نشانیِ کلید شخصی" in history
    assert "کلید مشترک با این انتقال حذف شد" in history


def test_replacing_the_key_binds_it_to_the_new_origin(login_as, provider, elsewhere, fake_provider):
    client = login_as("superadmin")
    admins.save_provider_settings(client.admin, provider, personal_api_key=BOSS_KEY)
    catalog.update_provider(provider, {"base_url": elsewhere}, actor="test")

    admins.save_provider_settings(client.admin, _fresh(), personal_api_key="sk-boss-new-5566")

    calls.chat("openrouter", "hi", admin=client.admin)
    assert fake_provider.requests[0].authorization == "Bearer sk-boss-new-5566"


def test_confirm_without_a_key_changes_nothing(login_as, provider):
    client = login_as("admin")
    token = csrf_token(client, "/keys")
    response = client.post(
        f"/keys/{provider.id}/confirm", data={"csrf_token": token}, follow_redirects=True
    )
    assert response.status_code == 200
    assert 'role="alert"' in response.get_data(as_text=True)
    assert _db.session.scalar(select(AdminProviderSettings)) is None
    assert not [e for e in _events("settings.update")]
