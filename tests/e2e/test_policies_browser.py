"""A group's traffic policies in a real browser: schedule a switch with the Jalali day and a
Tehran time from the models page (a dialog, two steps, no reload) and see it on the group;
set a fallback and a split arm the same way."""

from __future__ import annotations

import jdatetime
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.e2e.checks import assert_accessible
from webapp.dates import local_instant_utc
from webapp.models import Schedule
from webapp.operations import routing

pytestmark = pytest.mark.e2e
FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


@pytest.fixture
def catalogue(make_provider, make_model):
    openrouter = make_provider("openrouter", name="OpenRouter")
    gpt = make_model(openrouter, "gpt-4o", caps=["chat"], active=True, display_name="GPT-4o")
    claude = make_model(openrouter, "claude-3.5", caps=["chat"], display_name="Claude 3.5")
    return {"provider": openrouter, "gpt": gpt, "claude": claude}


def test_schedule_a_switch_with_the_jalali_field_and_see_it_on_the_group(
    page, live_server, sign_in, catalogue, fresh_db
):
    p, claude = catalogue["provider"], catalogue["claude"]
    today = jdatetime.date.today()
    day = f"{today.year + 1}/{today.month:02d}/{min(today.day, 28):02d}"
    sign_in("operator")
    page.evaluate("window.__marker = 1")
    block = page.locator(f"#policies-group-{p.id}-chat")

    block.locator("[data-open-schedule]").click()

    dialog = page.locator("dialog.policy-dialog")
    expect(dialog).to_be_visible()
    assert_accessible(page, "the policies dialog")
    form = dialog.locator("[data-schedule-form]")
    form.get_by_label("مدلی که فعال می‌شود").select_option(str(claude.id))
    form.get_by_label("روز (هجری شمسی)").fill(day.translate(FA_DIGITS))  # Persian digits
    form.get_by_label("ساعت (۲۴ساعته)").fill("09:30")
    form.get_by_role("button", name="زمان‌بندی", exact=True).click()

    confirm = dialog.locator("[data-confirm-schedule]")
    expect(confirm).to_contain_text("Claude 3.5")
    expect(confirm).to_contain_text("فعال کردن این مدل باعث غیرفعال شدن مدل GPT-4o می‌شود")
    assert fresh_db().scalars(select(Schedule)).all() == []  # nothing before «تأیید»
    confirm.get_by_role("button", name="تأیید").click()

    expect(page.locator("#flash-status")).to_contain_text("تغییر زمان‌بندی شد")
    expect(dialog).to_have_count(0)
    shown = block.locator("[data-next-schedule]")
    expect(shown).to_contain_text("تغییر زمان‌بندی‌شده")
    expect(shown).to_contain_text("Claude 3.5")
    expect(shown).to_contain_text(f"{day} ۰۹:۳۰".translate(FA_DIGITS))
    assert page.evaluate("window.__marker") == 1, "the page reloaded"
    (row,) = fresh_db().scalars(select(Schedule)).all()
    assert row.run_at == local_instant_utc(day, "09:30")
    assert_accessible(page, "the models page with a scheduled switch")


def test_a_bad_day_is_refused_in_persian_in_the_dialog(
    page, live_server, sign_in, catalogue, fresh_db
):
    sign_in("operator")
    page.locator(f"#policies-group-{catalogue['provider'].id}-chat [data-open-schedule]").click()
    form = page.locator("dialog.policy-dialog [data-schedule-form]")
    form.get_by_label("روز (هجری شمسی)").fill("۱۴۰۵/۱۴/۴۰")
    form.get_by_label("ساعت (۲۴ساعته)").fill("09:30")
    form.get_by_role("button", name="زمان‌بندی", exact=True).click()

    expect(page.locator("dialog.policy-dialog")).to_contain_text("این روز معتبر نیست")
    expect(page.locator("#flash-alert[role=alert]")).to_contain_text("هیچ تغییری داده نشد")
    assert fresh_db().scalars(select(Schedule)).all() == []


def test_set_a_fallback_and_a_split_arm(
    page, live_server, sign_in, catalogue, make_provider, make_model, fresh_db
):
    backup = make_provider("backup", name="Backup AI")
    mistral = make_model(backup, "mistral", caps=["chat"], display_name="Mistral Large")
    p, claude = catalogue["provider"], catalogue["claude"]
    sign_in("operator")
    block = page.locator(f"#policies-group-{p.id}-chat")

    block.locator("[data-open-routing]").click()
    form = page.locator("dialog.policy-dialog [data-routing-form]")
    form.get_by_label("پشتیبان ۱").select_option(str(mistral.id))
    form.get_by_label("Claude 3.5").fill("۱۰")
    form.get_by_role("button", name="ذخیرهٔ مسیریابی").click()
    page.locator("dialog.policy-dialog [data-confirm-routing]").get_by_role(
        "button", name="تأیید"
    ).click()

    expect(block.locator("[data-fallbacks]")).to_contain_text("Mistral Large")
    expect(block.locator("[data-split]")).to_contain_text("آزمایش ۱۰٪")
    expect(block.locator("[data-live-share]")).to_contain_text("۹۰٪")
    fresh_db()
    saved = routing.get_routing(p.id, "chat")
    assert saved.fallbacks == (mistral.id,)
    assert saved.split == (routing.Arm(claude.id, 10),)


def test_the_policies_dialog_is_modal_and_gives_focus_back(page, live_server, sign_in, catalogue):
    """Opened from a group's toolbar: modal (the page behind is inert), focus on its first
    field; Escape closes it and focus returns to the button that opened it."""
    sign_in("operator")
    opener = page.locator(f"#policies-group-{catalogue['provider'].id}-chat [data-open-schedule]")
    opener.click()
    dialog = page.locator("dialog.policy-dialog")
    expect(dialog).to_be_visible()
    assert dialog.evaluate("d => d.matches(':modal')")
    assert page.evaluate("!!document.activeElement.closest('dialog.policy-dialog')")
    for _ in range(12):  # Tab stays inside
        page.keyboard.press("Tab")
        assert page.evaluate(
            "!!document.activeElement.closest('dialog.policy-dialog') || "
            "document.activeElement === document.body"
        )
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(opener).to_be_focused()
