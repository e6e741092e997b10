"""The providers' guards: removing the shared key asks first; a key typed into a new
provider is used (and said so) and never silently lost after a form error; the sync list
starts with nothing ticked and has its search, select all/none and count; an empty
provider offers its next steps; «ویرایش» returns to the provider's row."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.support import field_error, text
from webapp import secrets
from webapp.extensions import db
from webapp.models import Provider

KEY = "sk-or-guard-4d5e6f7a8b"


def by_slug(slug: str) -> Provider | None:
    db.session.expire_all()
    return db.session.scalar(select(Provider).where(Provider.slug == slug))


# --- removing the shared key ------------------------------------------------------------


def test_removing_the_shared_key_asks_for_confirmation(login_as, post, make_provider):
    client = login_as("admin")
    p = make_provider("openrouter", name="OpenRouter", shared_api_key=KEY)
    url = f"/providers/{p.id}/shared-key/clear"

    edit = text(client.get(f"/providers/{p.id}/edit"))
    # The edit page links to the question; no form there removes the key in one click.
    assert f'href="{url}"' in edit and f'action="{url}"' not in edit

    page = text(client.get(url))
    assert "کلید مشترک <bdi>OpenRouter</bdi> حذف شود؟" in page
    assert secrets.hint(KEY) in page and KEY not in page
    assert "بله، کلید حذف شود" in page and "نه، کلید حذف نشود" in page
    assert by_slug("openrouter").has_shared_api_key

    # A post without the confirmation (an old form, a stray script) only asks again.
    assert "حذف شود؟" in text(post(client, url))
    assert by_slug("openrouter").has_shared_api_key

    done = post(client, url, {"confirm": "yes"}, follow_redirects=True)
    assert "کلید مشترک <bdi>OpenRouter</bdi> حذف شد." in text(done)
    assert not by_slug("openrouter").has_shared_api_key


def test_removing_needs_the_csrf_token_and_the_right_role(login_as, make_provider):
    p = make_provider("openrouter", shared_api_key=KEY)
    url = f"/providers/{p.id}/shared-key/clear"

    assert login_as("operator").get(url).status_code == 403
    refused = login_as("admin").post(url, data={"confirm": "yes"})
    assert refused.status_code in (200, 400)
    assert by_slug("openrouter").has_shared_api_key


def test_nothing_to_remove_goes_back_to_the_provider(login_as, make_provider):
    p = make_provider("openrouter")
    response = login_as("admin").get(f"/providers/{p.id}/shared-key/clear")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/providers/{p.id}/edit"


# --- a key typed into a new provider ----------------------------------------------------


def new_provider(**fields) -> dict:
    return {"slug": "openrouter", "name": "OpenRouter", "is_enabled": "y"} | fields


def test_a_key_typed_into_a_new_provider_may_be_used(login_as, post):
    client = login_as("admin")

    response = post(
        client, "/providers/new", new_provider(shared_api_key=KEY), follow_redirects=True
    )

    p = by_slug("openrouter")
    assert p.shared_api_enabled and secrets.decrypt(p.shared_api_key_encrypted) == KEY
    assert "«استفاده از کلید مشترک مجاز است» تیک خورد" in text(response)


def test_without_a_key_the_box_is_left_as_it_was(login_as, post):
    client = login_as("admin")
    response = post(client, "/providers/new", new_provider(), follow_redirects=True)
    assert not by_slug("openrouter").shared_api_enabled
    assert "تیک خورد" not in text(response)


def test_after_a_form_error_the_key_is_asked_for_again(login_as, post):
    client = login_as("admin")

    first = post(client, "/providers/new", new_provider(slug="Bad Slug", shared_api_key=KEY))
    assert first.status_code == 400
    body = text(first)
    assert KEY not in body  # never rendered back
    assert "یک بار دیگر وارد کنید" in field_error(body, "shared_api_key")
    assert re.search(r'name="key_was_typed"[^>]*value="1"|value="1"[^>]*name="key_was_typed"', body)
    assert by_slug("bad-slug") is None

    # Fixed slug, key forgotten: asked again, nothing created.
    second = post(client, "/providers/new", new_provider(key_was_typed="1"))
    assert second.status_code == 400
    assert "نگه داشته نشد" in field_error(text(second), "shared_api_key")
    assert by_slug("openrouter") is None

    # The key typed again: created with it.
    third = post(client, "/providers/new", new_provider(key_was_typed="1", shared_api_key=KEY))
    assert third.status_code == 302
    p = by_slug("openrouter")
    assert p.has_shared_api_key and p.shared_api_enabled


def test_a_second_empty_try_creates_the_provider_without_a_key(login_as, post):
    client = login_as("admin")
    asked = post(client, "/providers/new", new_provider(key_was_typed="1"))
    assert asked.status_code == 400 and by_slug("openrouter") is None
    assert not re.search(r'name="key_was_typed"[^>]*value="1"', text(asked))

    created = post(client, "/providers/new", new_provider())
    assert created.status_code == 302
    assert not by_slug("openrouter").has_shared_api_key


# --- sync ---------------------------------------------------------------------------------


def test_sync_list_starts_with_nothing_ticked(login_as, post, provider, fake_provider):
    client = login_as("admin")

    body = text(post(client, "/providers/openrouter/sync", {"action": "fetch"}))

    rows = re.findall(r"<tr data-sync-row=", body)
    assert len(rows) >= 2
    boxes = re.findall(r'<input class="form-check-input" type="checkbox" name="add"[^>]*>', body)
    assert len(boxes) == len(rows) and not any("checked" in b for b in boxes)
    assert 'type="search" id="sync-search"' in body
    assert "انتخاب همهٔ موارد نمایش‌داده‌شده" in body and "لغو همهٔ انتخاب‌ها" in body
    assert "افزودن ۰ مدل انتخاب‌شده (غیرفعال)" in body
    assert "js/sync-picker.js" in body
    # The navbar says where we are.
    assert re.search(r'aria-current="page"[^>]*>ارائه‌دهندگان<|ارائه‌دهندگان</a>', body)
    nav = body.split('aria-current="page"')[1][:200]
    assert "ارائه‌دهندگان" in nav


def test_sync_adding_nothing_is_refused_in_persian(login_as, post, provider, fake_provider):
    client = login_as("admin")
    response = post(
        client,
        "/providers/openrouter/sync",
        {"rows": "1", "model_id-0": "vendor/x", "caps-0": "chat"},
    )
    assert response.status_code == 400
    assert "دست‌کم یک مدل را برای افزودن انتخاب کنید." in text(response)
    assert len(by_slug("openrouter").models) == 0


def test_sync_added_count_in_persian_digits(login_as, post, provider, fake_provider):
    client = login_as("admin")
    form = {"rows": "2", "add": ["0", "1"]}
    for i, model_id in enumerate(("vendor/a", "vendor/b")):
        form |= {f"model_id-{i}": model_id, f"caps-{i}": "chat"}

    response = post(client, "/providers/openrouter/sync", form, follow_redirects=True)

    assert "۲ مدل افزوده شد (غیرفعال)." in text(response)


# --- the list -----------------------------------------------------------------------------


def test_an_empty_provider_offers_its_next_steps(login_as, make_provider, make_model):
    empty = make_provider("empty", name="Empty")
    full = make_provider("full", name="Full")
    make_model(full, "gpt-4o")

    body = text(login_as("admin").get("/providers"))

    empty_row = body.split(f'id="provider-{empty.id}"')[1].split("</tr>")[0]
    full_row = body.split(f'id="provider-{full.id}"')[1].split("</tr>")[0]
    assert 'href="/models/new?provider=empty"' in empty_row and "افزودن مدل" in empty_row
    assert "همگام‌سازی<" in empty_row
    assert "provider-empty-actions" not in full_row

    viewer = text(login_as("viewer").get("/providers"))
    assert "provider-empty-actions" not in viewer


def test_edit_returns_to_the_providers_row(login_as, post, make_provider):
    client = login_as("admin")
    p = make_provider("openrouter", name="OpenRouter")
    back = f"/providers#provider-{p.id}"

    listing = text(client.get("/providers"))
    assert f'href="/providers/{p.id}/edit?next=/providers%23provider-{p.id}"' in listing

    saved = post(
        client,
        f"/providers/{p.id}/edit?next=%2Fproviders%23provider-{p.id}",
        {"slug": "openrouter", "name": "Open Router", "is_enabled": "y"},
    )
    assert saved.status_code == 302 and saved.headers["Location"] == back

    # Another host is never a place to return to.
    elsewhere = post(
        client,
        f"/providers/{p.id}/edit?next=//evil.example/x",
        {"slug": "openrouter", "name": "OpenRouter", "is_enabled": "y"},
    )
    assert elsewhere.headers["Location"] == "/providers"
