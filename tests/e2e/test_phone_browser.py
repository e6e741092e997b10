"""Every dashboard page on a 390×844 phone: the document is never wider than the viewport
(no sideways scroll), in Persian."""

from __future__ import annotations

import pytest

from tests.e2e.test_pages_browser import busy  # noqa: F401 - the same demo data

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


def test_no_page_scrolls_sideways_on_a_phone(page, live_server, sign_in, busy):  # noqa: F811
    page.set_viewport_size(PHONE)
    sign_in("superadmin")
    paths = [
        "/models",
        "/models/new",
        "/providers",
        f"/providers/{busy['provider_id']}/edit",
        f"/providers/{busy['provider_id']}/delete",
        "/providers/openrouter/sync",
        "/keys",
        "/tokens",
        "/playground",
        "/admins",
        "/admins/new",
        f"/admins/{busy['admin_id']}/edit",
        "/history",
    ]
    too_wide = {}
    for path in paths:
        page.goto(live_server(path))
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[path] = width
    assert not too_wide, f"wider than the {PHONE['width']} px viewport: {too_wide}"
