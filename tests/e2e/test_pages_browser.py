"""The providers, my keys, tokens, admins and history pages in a real browser: no serious or
critical axe-core violation, no CSP refusal (the ``page`` fixture fails on one), the one-time
token can be copied with the button, and review screenshots at 1366×768."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.checks import assert_accessible, shoot
from tests.e2e.pages import busy_demo
from webapp.operations.demo import seed_demo


@pytest.fixture
def busy(app, make_admin):
    """Demo data plus what these pages show: keys, tokens, activations, other admins."""
    seed_demo()
    boss = make_admin("superadmin", username="boss")
    provider = busy_demo(boss)
    return {"provider_id": provider.id, "admin_id": boss.id}


def test_pages_are_accessible(page, live_server, sign_in, busy, screenshots):
    sign_in("superadmin")
    pages = [
        ("providers", "/providers"),
        ("providers-edit", f"/providers/{busy['provider_id']}/edit"),
        ("providers-delete", f"/providers/{busy['provider_id']}/delete"),
        ("keys", "/keys"),
        ("tokens", "/tokens"),
        ("admins", "/admins"),
        ("admins-create", "/admins/new"),
        ("admins-edit", f"/admins/{busy['admin_id']}/edit"),
        ("history", "/history"),
    ]
    for name, path in pages:
        page.goto(live_server(path))
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        assert_accessible(page, path)
        shoot(page, screenshots, f"pages-{name}")


def test_form_errors_are_accessible(page, live_server, sign_in, busy, screenshots):
    sign_in("superadmin")
    page.goto(live_server("/providers/new"))
    page.fill("#slug", "Bad Slug")
    page.click("#main button[type=submit]")
    expect(page.locator("#slug-error")).to_contain_text("حروف کوچک لاتین")
    expect(page.locator("#slug")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#flash-alert[role=alert]")).to_contain_text("اصلاح")
    assert_accessible(page, "provider form with errors")
    shoot(page, screenshots, "pages-providers-errors")


def test_new_token_is_shown_once_and_copied(page, context, live_server, sign_in, busy):
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in("viewer")
    page.goto(live_server("/tokens"))
    page.fill("#name", "ci")
    page.click("form[action='/tokens'] button[type=submit]")

    field = page.locator("#new-token-value")
    token = field.input_value()
    assert token.startswith("mcp_")
    page.click("#new-token [data-copy-target]")
    expect(page.locator("#new-token [data-copy-target]")).to_have_text("کپی شد")
    assert page.evaluate("navigator.clipboard.readText()") == token

    page.goto(live_server("/tokens"))
    expect(page.locator("#new-token-value")).to_have_count(0)
    assert token not in page.content()
