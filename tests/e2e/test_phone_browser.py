"""Every dashboard page on a 390×844 phone, in Persian: the document is never wider than the
viewport (no sideways scroll), the navbar folds behind its «منو» button, what a thumb taps
is at least 44 px high, tables read as cards and the filters fold behind a button."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import dashboard_pages, page_ids
from tests.e2e.test_pages_browser import busy  # noqa: F401 - the same demo data
from webapp.operations import admins

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
NAVBAR_FOLDED_MAX = 80  # px: the brand and the menu button on one line (204 px unfolded)
TOUCH_MIN = 44  # px

# What a thumb taps on a page: buttons, pagination, the models' «ویرایش» links, links in
# tables, the navbar's buttons and select. Inline links inside a sentence are exempt (WCAG).
TAPPABLE = (
    "#main .btn, #main .page-link, #main .edit-link, #main table a, #main .form-select, "
    "#main .form-control, .app-navbar .btn, .app-navbar .navbar-toggler, .app-navbar select"
)

SMALL_TARGETS = """([selector, least]) => {
  const small = [];
  for (const el of document.querySelectorAll(selector)) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(el).visibility === "hidden") continue;
    if (el.closest("[hidden], dialog:not([open])")) continue;
    const text = el.textContent.trim().slice(0, 30);
    if (box.height < least) small.push(`${el.className} «${text}» ${box.height.toFixed(1)}px`);
  }
  return small;
}"""


@pytest.fixture
def phone_pages(app, busy):  # noqa: F811
    return dashboard_pages(app, page_ids(busy["provider_id"], busy["admin_id"]))


def test_every_page_fits_a_phone(page, live_server, sign_in, phone_pages):
    page.set_viewport_size(PHONE)
    sign_in("superadmin")
    assert len(phone_pages) >= 18, phone_pages  # the list comes from the blueprints
    too_wide, tall_navbar, small = {}, {}, {}
    for _name, path in phone_pages:
        page.goto(live_server(path))
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[path] = width
        header = page.locator("header.app-header").bounding_box()
        if header["height"] > NAVBAR_FOLDED_MAX:
            tall_navbar[path] = header["height"]
        # Open the menu too: its links and buttons are tapped as well.
        page.get_by_role("button", name="منو").click()
        expect(page.locator("#app-nav")).to_be_visible()
        targets = page.evaluate(SMALL_TARGETS, [TAPPABLE, TOUCH_MIN])
        if targets:
            small[path] = targets[:4]
    assert not too_wide, f"wider than the {PHONE['width']} px viewport: {too_wide}"
    assert not tall_navbar, f"folded navbar over {NAVBAR_FOLDED_MAX} px: {tall_navbar}"
    assert not small, f"touch targets under {TOUCH_MIN} px: {small}"


def test_the_sign_in_page_fits_a_phone(page, live_server, busy):  # noqa: F811
    page.set_viewport_size(PHONE)
    page.goto(live_server("/login"))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator("header.app-header").bounding_box()["height"] <= NAVBAR_FOLDED_MAX
    assert page.evaluate(SMALL_TARGETS, [TAPPABLE + ", #main button", TOUCH_MIN]) == []


def test_the_menu_opens_and_closes_with_its_button(page, live_server, sign_in, busy):  # noqa: F811
    page.set_viewport_size(PHONE)
    sign_in("superadmin")
    toggle = page.get_by_role("button", name="منو")
    menu = page.locator("#app-nav")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_hidden()
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(menu.get_by_role("link", name="ارائه‌دهندگان")).to_be_visible()
    menu.get_by_role("link", name="ارائه‌دهندگان").click()
    page.wait_for_url(live_server("/providers"))
    expect(page.locator("#app-nav")).to_be_hidden()  # a new page starts folded
    page.get_by_role("button", name="منو").click()
    page.get_by_role("button", name="منو").click()
    expect(page.locator("#app-nav")).to_be_hidden()
    # Escape in the open menu folds it and gives focus back to the button.
    page.get_by_role("button", name="منو").click()
    page.locator("#app-nav .nav-link").first.focus()
    page.keyboard.press("Escape")
    expect(page.locator("#app-nav")).to_be_hidden()
    expect(page.get_by_role("button", name="منو")).to_be_focused()

    # A wide screen has no menu button: the links are always there.
    page.set_viewport_size({"width": 1366, "height": 768})
    expect(page.get_by_role("button", name="منو")).to_be_hidden()
    expect(page.locator("#app-nav").get_by_role("link", name="تاریخچه")).to_be_visible()


def test_tables_read_as_cards_on_a_phone(page, live_server, sign_in, busy):  # noqa: F811
    page.set_viewport_size(PHONE)
    admins.create_token(sign_in("superadmin"), "phone")  # the tokens page lists one's own
    for path, label in (("/providers", "نشانی پایه"), ("/tokens", "پیشوند"), ("/admins", "نقش")):
        page.goto(live_server(path))
        table = page.locator("#main table.table-cards").first
        expect(table.locator("thead")).to_have_css("position", "absolute")  # read, not seen
        row = table.locator("tbody tr").first
        expect(row).to_have_css("display", "block")
        cell = row.locator(f"td[data-label='{label}']")
        before = cell.evaluate("td => getComputedStyle(td, '::before').content")
        assert label in before, (path, before)
        box = row.bounding_box()
        assert box["width"] <= PHONE["width"], (path, box)

    # On a wide screen the same markup is a table again.
    page.set_viewport_size({"width": 1366, "height": 768})
    row = page.locator("#main table.table-cards tbody tr").first
    expect(row).to_have_css("display", "table-row")


def test_filters_fold_behind_a_button_on_a_phone(page, live_server, sign_in, busy):  # noqa: F811
    page.set_viewport_size(PHONE)
    sign_in("superadmin")
    for path in ("/history", "/models", "/usage"):
        page.goto(live_server(path))
        form = page.locator("#main form[role=search]")
        toggle = page.get_by_role("button", name="فیلترها")
        expect(form).to_be_hidden()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        toggle.click()
        expect(form).to_be_visible()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        assert page.evaluate("document.activeElement.closest('form[role=search]') !== null")

    # A filter in the address: the form starts open, so the admin sees what is filtered.
    page.goto(live_server("/models?capability=chat"))
    expect(page.locator("#main form[role=search]")).to_be_visible()
    expect(page.get_by_role("button", name="فیلترها")).to_have_attribute("aria-expanded", "true")

    # On a wide screen there is nothing to unfold.
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(live_server("/history"))
    expect(page.locator("#main form[role=search]")).to_be_visible()
    expect(page.get_by_role("button", name="فیلترها")).to_be_hidden()


@pytest.mark.parametrize("width", [768, 1024, 1280])
def test_the_navbar_fits_the_widths_between(page, live_server, sign_in, busy, width):  # noqa: F811
    """A tablet, a small laptop: the links wrap or fold, the page never scrolls sideways."""
    page.set_viewport_size({"width": width, "height": 800})
    sign_in("superadmin")
    for path in ("/models", "/history"):
        page.goto(live_server(path))
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
        header = page.locator("header.app-header").bounding_box()["height"]
        assert header <= 140, (width, path, header)
