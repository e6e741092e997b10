"""The dark theme: it follows the system's setting, the navbar's «پوسته» select overrides it
(light, dark or as the system) and is remembered across pages and visits, and the theme is
on <html> before the body is parsed (no flash of the wrong theme; theme.js is a file in
<head>: the CSP allows no inline script). Plus the look-and-feel details the review found:
a visible focus ring on the dark header, cards that keep their own height."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import TIMEOUT_MS
from tests.e2e.test_pages_browser import busy  # noqa: F401 - the same demo data

pytestmark = pytest.mark.e2e

THEME = "document.documentElement.getAttribute('data-bs-theme')"
BODY_LUMINANCE = """() => {
  const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}"""


@pytest.fixture
def dark_context(browser):
    ctx = browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="fa-IR", color_scheme="dark"
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


def theme_before_body(page, url: str) -> str | None:
    """The theme as it stands when the parser reaches <body>: what the first paint uses."""
    page.goto(url, wait_until="commit")
    page.wait_for_selector("body", state="attached")
    return page.evaluate(THEME)


def test_the_system_setting_is_followed_from_the_first_paint(page, dark_context, live_server, busy):  # noqa: F811
    assert theme_before_body(page, live_server("/login")) == "light"
    assert page.evaluate(BODY_LUMINANCE) > 0.8

    dark = dark_context.new_page()
    assert theme_before_body(dark, live_server("/login")) == "dark"
    dark.wait_for_load_state()
    assert dark.evaluate(BODY_LUMINANCE) < 0.2
    expect(dark.locator("#username")).to_have_css("color-scheme", "dark")

    # The system changes its mind while the page is open: "as the system" follows.
    dark.emulate_media(color_scheme="light")
    expect(dark.locator("html")).to_have_attribute("data-bs-theme", "light")


def test_the_choice_overrides_the_system_and_is_remembered(dark_context, live_server, busy):  # noqa: F811
    page = dark_context.new_page()
    page.goto(live_server("/login"))
    choice = page.get_by_label("پوسته")
    expect(choice).to_be_visible()
    expect(choice).to_have_value("system")
    assert page.evaluate(THEME) == "dark"

    choice.select_option("light")
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "light")
    assert page.evaluate("localStorage.getItem('theme')") == "light"
    expect(page.locator("#username")).to_have_css("color-scheme", "light")  # the widgets too
    # Another page, then a new tab: light from the first paint, the select says so.
    assert theme_before_body(page, live_server("/no-such-page")) == "light"
    other = dark_context.new_page()
    assert theme_before_body(other, live_server("/login")) == "light"
    expect(other.get_by_label("پوسته")).to_have_value("light")

    other.get_by_label("پوسته").select_option("system")
    expect(other.locator("html")).to_have_attribute("data-bs-theme", "dark")
    assert other.evaluate("localStorage.getItem('theme')") is None

    # A stored value that is not a theme is ignored: the system decides.
    other.evaluate("localStorage.setItem('theme', 'purple')")
    assert theme_before_body(other, live_server("/login")) == "dark"


def test_dark_choice_on_a_light_system(page, live_server, sign_in, busy):  # noqa: F811
    sign_in("superadmin")
    page.get_by_label("پوسته").select_option("dark")
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "dark")
    assert page.evaluate(BODY_LUMINANCE) < 0.2
    page.goto(live_server("/providers"))
    assert page.evaluate(THEME) == "dark"
    ink = page.locator("#main table").first.evaluate("t => getComputedStyle(t).color")
    assert ink != "rgb(33, 37, 41)"  # not Bootstrap's light-theme ink


def test_the_navbar_focus_ring_shows_on_the_dark_header(page, live_server, sign_in, busy):  # noqa: F811
    sign_in("superadmin")
    page.locator("body").focus()
    link = page.locator("#app-nav .nav-link").first
    page.keyboard.press("Tab")  # the skip link
    for _ in range(4):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('nav-link')"):
            break
    assert page.evaluate("document.activeElement.classList.contains('nav-link')")
    style = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth, s.outlineColor]; }"
    )
    assert style[0] == "solid" and float(style[1].rstrip("px")) >= 2, style
    assert style[2] == "rgb(255, 212, 59)", style  # yellow on the navy header
    expect(link).to_be_visible()


def test_cards_in_a_row_keep_their_own_height(page, live_server, sign_in, busy):  # noqa: F811
    sign_in("superadmin")  # lands on /models
    expect(page.locator(".group-grid").first).to_have_css("align-items", "start")
    heights = page.evaluate(
        """() => {
          const rows = {};
          for (const card of document.querySelectorAll('.group-grid > *')) {
            const box = card.getBoundingClientRect();
            (rows[Math.round(box.top)] ||= []).push(Math.round(box.height));
          }
          return Object.values(rows).filter(row => row.length > 1);
        }"""
    )
    assert heights, "no row with two cards on the models page"
    assert any(len(set(row)) > 1 for row in heights), heights  # not all stretched to the tallest
