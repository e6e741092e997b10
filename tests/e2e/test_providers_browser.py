"""The sync page's list in a real browser: nothing ticked, the search hides what does not
match, «select all shown» ticks only what is shown, «select none» clears, and the add
button counts the chosen models in Persian digits (disabled at zero); adding two of
them adds exactly those two."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.e2e.checks import assert_accessible, shoot
from tests.support import SHARED_KEY
from webapp.extensions import db
from webapp.models import AIModel
from webapp.operations import catalog

pytestmark = pytest.mark.e2e


@pytest.fixture
def loopback(app, fake_provider):
    return catalog.create_provider(
        {
            "slug": "openrouter",
            "name": "OpenRouter",
            "base_url": fake_provider.url,
            "shared_api_enabled": True,
            "shared_api_key": SHARED_KEY,
        },
        actor="test",
    )


def test_sync_list_tools(page, live_server, sign_in, loopback, fake_provider, screenshots):
    sign_in("admin")
    page.goto(live_server("/providers"))
    row = page.locator(f"#provider-{loopback.id}")
    # An empty provider offers its next steps right in its row.
    row.locator(".provider-empty-actions").get_by_role(
        "button", name="همگام‌سازی OpenRouter"
    ).click()

    rows = page.locator("tr[data-sync-row]")
    # The click navigates: wait for the list before counting it.
    total = len(fake_provider.models)
    assert total >= 3
    expect(rows).to_have_count(total)
    boxes = page.locator("[data-sync-choice]")
    for i in range(total):
        expect(boxes.nth(i)).not_to_be_checked()
    submit = page.locator("[data-sync-submit]")
    expect(submit).to_have_text("افزودن ۰ مدل انتخاب‌شده (غیرفعال)")
    expect(submit).to_be_disabled()
    nav = page.locator("nav [aria-current=page]")
    expect(nav).to_have_text("ارائه‌دهندگان")
    assert_accessible(page, "/providers/openrouter/sync")
    shoot(page, screenshots, "providers-sync")

    first_id = rows.nth(0).get_attribute("data-sync-row")
    page.fill("#sync-search", first_id)
    expect(page.locator("tr[data-sync-row]:visible")).to_have_count(1)
    page.get_by_role("button", name="انتخاب همهٔ موارد نمایش‌داده‌شده").click()
    expect(submit).to_have_text("افزودن ۱ مدل انتخاب‌شده (غیرفعال)")

    page.fill("#sync-search", "")
    expect(page.locator("tr[data-sync-row]:visible")).to_have_count(total)
    page.get_by_role("button", name="لغو همهٔ انتخاب‌ها").click()
    expect(submit).to_have_text("افزودن ۰ مدل انتخاب‌شده (غیرفعال)")

    boxes.nth(0).check()
    boxes.nth(1).check()
    expect(submit).to_have_text("افزودن ۲ مدل انتخاب‌شده (غیرفعال)")
    chosen = {rows.nth(i).get_attribute("data-sync-row") for i in (0, 1)}
    submit.click()

    expect(page.locator("#flash-status")).to_contain_text("۲ مدل افزوده شد (غیرفعال).")
    db.session.rollback()
    added = set(
        db.session.scalars(select(AIModel.model_id).where(AIModel.provider_id == loopback.id))
    )
    assert added == chosen
