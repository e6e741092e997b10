"""Providers page: list, create, edit, enable/disable, delete, the shared key."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.support import field_error, shared_key_on, text
from webapp import secrets
from webapp.extensions import db
from webapp.models import AIModel, AuditEvent, Provider

SHARED_KEY = "sk-or-shared-7f3a9c1b2e"


def provider_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Provider.id)))


def by_slug(slug: str) -> Provider | None:
    db.session.expire_all()
    return db.session.scalar(select(Provider).where(Provider.slug == slug))


def test_list_shows_every_column_and_only_the_key_hint(login_as, make_provider, make_model):
    client = login_as("viewer")
    openrouter = make_provider(
        "openrouter",
        name="OpenRouter",
        base_url="https://openrouter.ai/api/v1",
        **shared_key_on(SHARED_KEY),
    )
    make_model(openrouter, "gpt-4o")
    make_model(openrouter, "claude-3.5")
    openai = make_provider("openai", name="OpenAI", is_enabled=False)

    body = text(client.get("/providers"))

    assert "OpenRouter" in body and "OpenAI" in body
    assert '<bdi dir="ltr" class="font-monospace">openrouter</bdi>' in body
    assert '<bdi dir="ltr" class="text-break">https://openrouter.ai/api/v1</bdi>' in body
    assert secrets.hint(SHARED_KEY) == "…1b2e" and "…1b2e" in body
    assert SHARED_KEY not in body
    row = body.split(f'id="provider-{openrouter.id}"')[1].split("</tr>")[0]
    assert "۲" in row  # two models, Persian digits
    openai_row = body.split(f'id="provider-{openai.id}"')[1].split("</tr>")[0]
    assert "ندارد" in openai_row  # no shared key
    assert openai_row.count("خیر") == 2  # disabled, shared key not allowed
    # A viewer reads, but is offered no change.
    assert "/providers/new" not in body and "/disable" not in body


def test_list_offers_actions_to_managers(login_as, make_provider):
    client = login_as("admin")
    p = make_provider("openrouter")
    body = text(client.get("/providers"))
    assert f"/providers/{p.id}/edit" in body
    assert f"/providers/{p.id}/disable" in body
    assert f"/providers/{p.id}/delete" in body
    assert "/providers/new" in body


def test_create_provider(login_as, post):
    client = login_as("admin")
    response = post(
        client,
        "/providers/new",
        {
            "slug": "openrouter",
            "name": "OpenRouter",
            "base_url": "https://openrouter.ai/api/v1/",
            "is_enabled": "y",
            "shared_api_enabled": "y",
            "shared_api_key": SHARED_KEY,
        },
        follow_redirects=True,
    )
    body = text(response)
    assert response.request.path == "/providers"
    assert "ارائه‌دهندهٔ <bdi>OpenRouter</bdi> ایجاد شد." in body  # flash, name isolated
    assert SHARED_KEY not in body and secrets.hint(SHARED_KEY) in body
    p = by_slug("openrouter")
    assert p.base_url == "https://openrouter.ai/api/v1"
    assert p.is_enabled and p.shared_api_enabled
    assert secrets.decrypt(p.shared_api_key_encrypted) == SHARED_KEY
    assert p.created_by_id == client.admin.id


BAD_CREATE = [
    ("slug", {"slug": "", "name": "X"}, "الزامی"),
    ("name", {"slug": "good-slug", "name": ""}, "الزامی"),
    ("slug", {"slug": "Bad Slug", "name": "X"}, "حروف کوچک لاتین"),
    ("slug", {"slug": "dup", "name": "X"}, "از قبل وجود دارد"),
    ("base_url", {"slug": "x1", "name": "X", "base_url": "ftp://example.com"}, "http://"),
    ("base_url", {"slug": "x2", "name": "X", "base_url": "not a url"}, "http://"),
    (
        "shared_api_key",
        {"slug": "x3", "name": "X", "shared_api_key": "sk with space"},
        "بدون فاصله",
    ),
    ("name", {"slug": "x4", "name": "n" * 101}, "حداکثر"),
]


@pytest.mark.parametrize(("field", "data", "message"), BAD_CREATE)
def test_create_refuses_bad_input_next_to_the_field(
    login_as, post, make_provider, field, data, message
):
    make_provider("dup")
    client = login_as("admin")
    before = provider_count()

    response = post(client, "/providers/new", data)

    body = text(response)
    assert response.status_code == 400
    error = field_error(body, field)
    assert error and message in error, (field, error)
    assert 'role="alert"' in body and "اصلاح" in body
    assert provider_count() == before
    if "shared_api_key" in data:
        assert data["shared_api_key"] not in body


def test_edit_provider(login_as, post, make_provider):
    client = login_as("admin")
    p = make_provider("openrouter", name="OpenRouter", shared_api_key=SHARED_KEY)
    page = text(client.get(f"/providers/{p.id}/edit"))
    assert 'value="openrouter"' in page and SHARED_KEY not in page

    response = post(
        client,
        f"/providers/{p.id}/edit",
        {"slug": "open-router", "name": "Open Router", "base_url": "", "is_enabled": "y"},
    )

    assert response.status_code == 302
    p = by_slug("open-router")
    assert p.name == "Open Router" and p.shared_api_enabled is False
    assert secrets.decrypt(p.shared_api_key_encrypted) == SHARED_KEY  # key untouched


def test_edit_refuses_a_taken_slug(login_as, post, make_provider):
    client = login_as("admin")
    make_provider("taken")
    p = make_provider("mine", name="Mine")

    response = post(client, f"/providers/{p.id}/edit", {"slug": "taken", "name": "Changed"})

    assert response.status_code == 400
    assert "از قبل وجود دارد" in field_error(text(response), "slug")
    assert by_slug("mine").name == "Mine"


def test_enable_and_disable(login_as, post, make_provider):
    client = login_as("admin")
    p = make_provider("openrouter")

    response = post(client, f"/providers/{p.id}/disable", follow_redirects=True)
    assert "غیرفعال شد" in text(response)
    assert by_slug("openrouter").is_enabled is False

    post(client, f"/providers/{p.id}/enable")
    assert by_slug("openrouter").is_enabled is True


def test_delete_asks_for_confirmation_first(login_as, post, make_provider, make_model):
    client = login_as("admin")
    p = make_provider("openrouter", name="OpenRouter")
    make_model(p)

    page = client.get(f"/providers/{p.id}/delete")
    assert page.status_code == 200
    assert "OpenRouter" in text(page) and "۱" in text(page)  # names it and its model count
    assert by_slug("openrouter") is not None  # asking changed nothing

    response = post(client, f"/providers/{p.id}/delete", follow_redirects=True)

    assert "حذف شد" in text(response)
    assert by_slug("openrouter") is None
    assert db.session.scalar(select(func.count(AIModel.id))) == 0
    assert db.session.scalar(
        select(func.count(AuditEvent.id)).where(AuditEvent.action == "provider.delete")
    )


def test_shared_key_set_replace_clear(login_as, post, make_provider):
    client = login_as("admin")
    p = make_provider("openrouter")
    url = f"/providers/{p.id}/shared-key"

    response = post(client, url, {"key-shared_api_key": SHARED_KEY}, follow_redirects=True)
    body = text(response)
    assert secrets.hint(SHARED_KEY) in body and SHARED_KEY not in body
    assert secrets.decrypt(by_slug("openrouter").shared_api_key_encrypted) == SHARED_KEY

    replacement = "sk-or-replacement-99zz"
    body = text(post(client, url, {"key-shared_api_key": replacement}, follow_redirects=True))
    assert secrets.hint(replacement) in body and replacement not in body
    assert by_slug("openrouter").shared_api_key_hint == secrets.hint(replacement)

    # Removing asks first (the key cannot be shown again), then removes.
    body = text(post(client, f"{url}/clear", follow_redirects=True))
    assert "کلید مشترک <bdi>Openrouter</bdi> حذف شود؟" in body
    assert by_slug("openrouter").shared_api_key_hint == secrets.hint(replacement)
    body = text(post(client, f"{url}/clear", {"confirm": "yes"}, follow_redirects=True))
    assert "حذف شد" in body
    p = by_slug("openrouter")
    assert p.shared_api_key_encrypted is None and p.shared_api_key_hint == ""


@pytest.mark.parametrize(
    ("key", "message"), [("", "خالی"), ("sk has spaces", "بدون فاصله"), ("کلید", "لاتین")]
)
def test_shared_key_refuses_bad_keys(login_as, post, make_provider, key, message):
    client = login_as("admin")
    p = make_provider("openrouter", shared_api_key=SHARED_KEY)

    response = post(client, f"/providers/{p.id}/shared-key", {"key-shared_api_key": key})

    assert response.status_code == 400
    assert message in field_error(text(response), "key-shared_api_key")
    assert secrets.decrypt(by_slug("openrouter").shared_api_key_encrypted) == SHARED_KEY


def test_key_inputs_are_password_fields_without_autocomplete(login_as, make_provider):
    client = login_as("admin")
    p = make_provider("openrouter")
    for path, name in (
        (f"/providers/{p.id}/edit", "key-shared_api_key"),
        ("/providers/new", "shared_api_key"),
    ):
        body = text(client.get(path))
        tag = (
            body.split(f'name="{name}"')[0].rsplit("<input", 1)[1]
            + body.split(f'name="{name}"')[1].split(">")[0]
        )
        assert 'type="password"' in tag and 'autocomplete="off"' in tag


def test_unknown_provider_is_404(login_as, post):
    client = login_as("admin")
    assert client.get("/providers/999/edit").status_code == 404
    assert post(client, "/providers/999/disable").status_code == 404


def test_test_connection_and_sync_buttons(app_factory, make_admin):
    from tests.support import sign_in

    app = app_factory()
    with app.app_context():
        username = make_admin("admin").username
        from webapp.operations import catalog

        catalog.create_provider({"slug": "openrouter", "name": "OpenRouter"})
    client = app.test_client()
    sign_in(client, username)

    body = text(client.get("/providers"))
    assert "hx-post=" in body and 'name="slug" value="openrouter"' in body
    assert "hx-target=" in body
    assert 'action="/providers/openrouter/sync"' in body
