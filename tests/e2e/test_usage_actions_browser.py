"""«بررسی اکنون» on the overview and a split's arms on the usage page, in a real browser:
the check's result shows, «پایان آزمایش» asks in a modal dialog then ends the split,
«ارتقا» opens the models page's activation dialog; Persian and English, desktop and
phone, axe clean."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.e2e.checks import assert_accessible
from tests.e2e.test_usage_browser import (
    SIZES,
    no_sideways_scroll,
    open_sized,
    switch_to_english,
)
from tests.queries.test_usage import call, flush, meter
from webapp.operations import routing


@pytest.fixture
def split(app, provider, make_model):
    gpt = make_model(provider, "gpt-4o", caps=["chat"], active=True, model_id="openai/gpt-4o")
    claude = make_model(provider, "claude", caps=["chat"], model_id="anthropic/claude")
    routing.set_routing(provider.id, "chat", [], [routing.Arm(claude.id, 25)])
    now = datetime.now(UTC)
    for _ in range(6):
        meter(now, latency_ms=90, **call("openrouter", "chat", "openai/gpt-4o", route="live"))
    for _ in range(2):
        meter(now, latency_ms=400, **call("openrouter", "chat", "anthropic/claude", route="split"))
    flush()
    return provider, gpt, claude


@pytest.mark.parametrize("size", sorted(SIZES))
def test_check_now_shows_the_result_on_the_overview(page, live_server, sign_in, split, size):
    provider, _, _ = split
    open_sized(page, live_server, sign_in, size, "operator", "/")
    card = page.locator(f"#overview-group-{provider.id}-chat")
    expect(card.locator(".overview-health")).to_have_text("—")
    card.get_by_role("button", name="بررسی اکنون").click()
    expect(page.locator("#flash-status")).to_contain_text("پاسخ داد")
    expect(card.locator(".overview-health .badge")).to_have_text("سالم")
    no_sideways_scroll(page)
    assert_accessible(page, f"overview after a check ({size}, fa)")
    switch_to_english(page)
    expect(card.locator(".overview-health .badge")).to_have_text("OK")
    assert_accessible(page, f"overview after a check ({size}, en)")


@pytest.mark.parametrize("size", sorted(SIZES))
def test_the_splits_arms_and_ending_it(page, live_server, sign_in, split, size):
    _, gpt, claude = split
    open_sized(page, live_server, sign_in, size, "operator", "/usage?provider=openrouter")
    arms = page.locator("table.usage-arms")
    expect(arms.locator('td[data-metric="calls"]')).to_have_text(["۶", "۲"])
    no_sideways_scroll(page)
    assert_accessible(page, f"usage page with a split ({size}, fa)")

    # «ارتقا»: the models page's own warning dialog, naming the live model; cancelled.
    arms.get_by_role("button", name="ارتقا").click()
    dialog = page.locator("dialog#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(gpt.display_name)
    dialog.get_by_role("button", name="انصراف").click()
    expect(dialog).to_have_count(0)

    # «پایان آزمایش»: asks, then the page comes back without the split.
    page.get_by_role("button", name="پایان آزمایش").first.click()
    ending = page.locator("dialog#end-split-dialog")
    expect(ending).to_be_visible()
    expect(ending).to_contain_text(claude.display_name)
    assert_accessible(page, f"end-split dialog ({size}, fa)")
    ending.get_by_role("button", name="پایان آزمایش").click()
    expect(page.locator("#flash-status")).to_contain_text("پایان یافت")
    expect(page.locator("table.usage-arms")).to_have_count(0)

    switch_to_english(page)
    expect(page.locator("[data-chart]").first).to_be_visible()
    assert_accessible(page, f"usage page after the split ({size}, en)")


def test_promoting_an_arm_marks_the_arms_out_of_date(page, live_server, sign_in, split):
    sign_in("operator")
    page.goto(live_server("/usage?provider=openrouter"))
    page.locator("table.usage-arms").get_by_role("button", name="ارتقا").click()
    dialog = page.locator("dialog#confirm-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("[data-dialog-confirm]").click()
    expect(page.locator("#flash-status")).to_contain_text("مدل فعال شد")
    expect(page.locator("[data-split-stale]")).to_be_visible()
    expect(page.locator("table.usage-arms form")).to_have_count(0)
    page.reload()
    expect(page.locator("table.usage-arms")).to_have_count(0)  # promoted: no split left
    assert_accessible(page, "usage page after a promotion")
