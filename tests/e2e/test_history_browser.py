"""The history's day filters in a real browser: the calendar popup shows the current
Solar Hijri month with Persian digits and weeks from Saturday, moves with the keyboard,
writes the chosen day in the field, and the server filters by it; the page stays
accessible with the popup open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jdatetime
import pytest
from playwright.sync_api import expect

from tests.e2e.checks import assert_accessible, shoot
from webapp.dates import TEHRAN
from webapp.extensions import db
from webapp.models import AuditEvent

pytestmark = pytest.mark.e2e

PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def jalali(day) -> str:
    j = jdatetime.date.fromgregorian(date=day)
    return f"{j.year:04d}/{j.month:02d}/{j.day:02d}".translate(PERSIAN)


def test_the_calendar_picks_a_jalali_day_that_filters(page, live_server, sign_in, screenshots):
    now = datetime.now(UTC)
    today = now.astimezone(TEHRAN).date()
    yesterday = today - timedelta(days=1)
    for name, when in (("today-event", now), ("old-event", now - timedelta(days=3))):
        db.session.add(
            AuditEvent(
                created_at=when,
                actor_name="robot",
                action="provider.update",
                target_type="provider",
                target_repr=name,
            )
        )
    db.session.commit()
    sign_in("viewer")
    page.goto(live_server("/history"))

    field = page.locator("#date_from")
    expect(field).to_have_value("")
    expect(field).to_have_attribute("placeholder", f"مثلاً {jalali(today)}")
    opener = page.locator("#date_from ~ .jalali-picker-open")
    expect(opener).to_have_text("تقویم")
    opener.click()

    popup = page.locator(".jalali-picker")
    expect(popup).to_be_visible()
    month = jdatetime.date.fromgregorian(date=today)
    expect(popup.locator(".jalali-picker-title")).to_contain_text(
        str(month.year).translate(PERSIAN)
    )
    expect(popup.locator("th").first).to_have_attribute("title", "شنبه")
    current = popup.locator("[aria-current=date]")
    expect(current).to_have_text(str(month.day).translate(PERSIAN))
    expect(current).to_be_focused()
    assert_accessible(page, "/history (calendar open)")
    shoot(page, screenshots, "history-calendar")

    # One day back: in a right-to-left grid the earlier day is to the right.
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect(popup).to_be_hidden()
    expect(field).to_have_value(jalali(yesterday))
    expect(field).to_be_focused()

    page.locator("#main button[type=submit]").click()
    expect(page.locator("#main")).to_contain_text("today-event")
    expect(page.locator("#main")).not_to_contain_text("old-event")
    assert "date_from=" in page.url and "actor=" not in page.url  # empty fields dropped


def test_escape_closes_the_calendar_and_a_typed_day_opens_its_month(page, live_server, sign_in):
    sign_in("viewer")
    page.goto(live_server("/history"))
    page.fill("#date_to", "۱۴۰۳/۰۱/۰۱")
    page.locator("#date_to ~ .jalali-picker-open").click()
    popup = page.locator("#date_to ~ .jalali-picker")
    expect(popup.locator(".jalali-picker-title")).to_contain_text("فروردین")
    expect(popup.locator(".jalali-picker-day").first).to_have_text("۱")
    expect(popup.locator(".jalali-picker-day")).to_have_count(31)
    # 1 Farvardin 1403 was a Wednesday: four blank cells before it from Saturday.
    first_row = popup.locator("tbody tr").first.locator("td")
    expect(first_row.nth(3)).to_have_text("")
    expect(first_row.nth(4)).to_have_text("۱")
    page.keyboard.press("Escape")
    expect(popup).to_be_hidden()
    expect(page.locator("#date_to")).to_have_value("۱۴۰۳/۰۱/۰۱")
