"""axe-core scans (no serious or critical violation): every page at 1366×768 and at 390×844,
light and dark; and review screenshots at 1366×768 (written to artifacts/screenshots/;
looked at, not compared)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.checks import assert_accessible, shoot
from tests.e2e.pages import dashboard_pages, page_ids
from tests.e2e.test_pages_browser import busy  # noqa: F401 - the same demo data
from webapp.operations.demo import DEMO_PASSWORD, seed_demo

pytestmark = pytest.mark.e2e


@pytest.fixture
def demo(app):
    seed_demo()


def sign_in_demo(page, live_server, username: str) -> None:
    page.goto(live_server("/login"))
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.click("#main button[type=submit]")
    page.wait_for_url(live_server("/"))  # the overview
    page.goto(live_server("/models"))


def test_login_and_models_pages(page, live_server, demo, screenshots):
    page.goto(live_server("/login"))
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    assert_accessible(page, "login page")
    shoot(page, screenshots, "01-login")

    page.fill("#username", "admin")
    page.fill("#password", "wrong-password-1")
    page.click("#main button[type=submit]")
    expect(page.locator("#flash-alert[role=alert]")).to_contain_text("نام کاربری یا گذرواژه")
    shoot(page, screenshots, "02-login-error")

    sign_in_demo(page, live_server, "admin")
    assert_accessible(page, "models page")
    shoot(page, screenshots, "03-models")
    shoot(page, screenshots, "03-models-full", full_page=True)

    # The confirmation dialog over the page.
    page.locator("label", has_text="Llama 3.1 70B").first.click()
    dialog = page.locator("dialog.confirm-dialog")
    expect(dialog).to_be_visible()
    assert_accessible(page, "models page with the confirmation dialog")
    shoot(page, screenshots, "04-models-dialog")
    dialog.get_by_role("button", name="تأیید").click()
    expect(page.locator("#flash-status")).to_contain_text("۱ مدل دیگر غیرفعال شد")
    shoot(page, screenshots, "05-models-after-change")

    page.goto(live_server("/models?capability=image&q=diffusion"))
    assert_accessible(page, "filtered models page")
    shoot(page, screenshots, "06-models-filtered")


def test_model_forms_and_error_pages(page, live_server, demo, screenshots):
    sign_in_demo(page, live_server, "admin")
    page.goto(live_server("/models/new?provider=openai"))
    assert_accessible(page, "new model form")
    shoot(page, screenshots, "07-model-new")

    page.fill("#display_name", "GPT 5")
    page.fill("#name", "gpt 5")  # a space: the service refuses it
    page.fill("#model_id", "gpt-5")
    page.check("input[name=capabilities][value=chat]")
    page.check("#activate")
    page.click("#main form button[type=submit]")
    expect(page.locator("#name-error")).to_be_visible()
    assert_accessible(page, "new model form with errors")
    shoot(page, screenshots, "08-model-new-errors", full_page=True)

    page.fill("#name", "gpt-5")
    page.click("#main form button[type=submit]")
    expect(page.locator(".conflict-preview")).to_contain_text("GPT-4o mini")
    shoot(page, screenshots, "09-model-new-preview", full_page=True)

    page.goto(live_server("/models/1/edit"))
    assert_accessible(page, "edit model form")
    shoot(page, screenshots, "10-model-edit")
    page.goto(live_server("/models/1/delete"))
    shoot(page, screenshots, "11-model-delete")

    page.goto(live_server("/no-such-page"))
    expect(page.locator("h1")).to_have_text("صفحه پیدا نشد")
    assert_accessible(page, "404 page")
    shoot(page, screenshots, "12-error-404")


def test_every_page_in_the_navigation(page, live_server, demo, screenshots):
    """Whatever pages exist by now (other areas add theirs): a review screenshot of each in
    this layout (their own browser tests scan them with axe), and the models page in en."""
    sign_in_demo(page, live_server, "admin")
    links = page.locator("nav.app-navbar .nav-link")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert "/models" in hrefs
    for href in hrefs:
        if href == "/models":
            continue  # scanned above
        page.goto(live_server(href))
        expect(page.locator("nav.app-navbar .nav-link.active")).to_have_attribute("href", href)
        name = href.strip("/").replace("/", "-") or "home"
        shoot(page, screenshots, f"20-nav-{name}")
    page.goto(live_server("/models"))
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    assert_accessible(page, "models page in English")
    shoot(page, screenshots, "30-models-en")


def test_viewer_sees_a_read_only_page(page, live_server, demo, screenshots):
    sign_in_demo(page, live_server, "viewer")
    expect(page.locator("#read-only-note")).to_be_visible()
    assert page.locator("input[type=radio]:not([disabled])").count() == 0
    shoot(page, screenshots, "40-models-viewer")


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 768}


@pytest.mark.parametrize(
    ("viewport", "scheme"),
    [(DESKTOP, "light"), (PHONE, "light"), (DESKTOP, "dark"), (PHONE, "dark")],
    ids=["desktop", "phone", "desktop-dark", "phone-dark"],
)
def test_every_page_at_both_sizes_and_in_dark_mode(
    app,
    page,
    live_server,
    sign_in,
    busy,  # noqa: F811
    viewport,
    scheme,
):
    """Every page the blueprints register (tests/e2e/pages.py), the sign-in page and the
    phone's open menu: no serious or critical axe-core violation (colour contrast included)."""
    page.set_viewport_size(viewport)
    page.emulate_media(color_scheme=scheme)
    page.goto(live_server("/login"))
    expect(page.locator("html")).to_have_attribute("data-bs-theme", scheme)
    failures = []

    def scan(what: str) -> None:
        try:
            assert_accessible(page, what)
        except AssertionError as error:
            failures.append(str(error))

    scan("/login")
    sign_in("superadmin")
    for _name, path in dashboard_pages(app, page_ids(busy["provider_id"], busy["admin_id"])):
        page.goto(live_server(path))
        expect(page.locator("html")).to_have_attribute("data-bs-theme", scheme)
        scan(path)
    if viewport is PHONE:
        page.get_by_role("button", name="منو").click()
        scan("the phone's open menu")
    assert not failures, "\n\n".join(failures)
