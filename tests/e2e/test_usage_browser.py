"""The overview and the usage page in a real browser: the charts are drawn (an SVG or a
canvas holding data), the tables are there, in Persian and English, at desktop and phone
sizes, with no sideways scroll and no serious axe-core violation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.checks import assert_accessible, shoot
from tests.queries.test_usage import call, flush, meter

SIZES = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def metered(app, make_provider, make_model):
    openai = make_provider("openai", name="OpenAI")
    make_model(openai, "gpt-4o", caps=["chat"], active=True, model_id="gpt-4o")
    make_model(openai, "gpt-4o-mini", caps=["chat"], model_id="gpt-4o-mini")
    now = datetime.now(UTC)
    for hours_ago in range(6):
        for n in range(hours_ago + 2):
            outcome = "provider_error" if n == 0 and hours_ago == 3 else "ok"
            at = now - timedelta(hours=hours_ago)
            meter(at, outcome=outcome, latency_ms=80 + 40 * n, prompt_tokens=12, **call())
            meter(at, latency_ms=200, **call(model="gpt-4o-mini"))
    flush()
    return openai


def open_sized(page, live_server, sign_in, size: str, role: str, path: str) -> None:
    """Sign in as ``role`` in a window of ``size`` (a key of SIZES) and open ``path``."""
    page.set_viewport_size(SIZES[size])
    sign_in(role)
    page.goto(live_server(path))


def no_sideways_scroll(page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def switch_to_english(page) -> None:
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("dir", "ltr")


@pytest.mark.parametrize("size", sorted(SIZES))
def test_overview_draws_a_chart_per_group(page, live_server, sign_in, metered, screenshots, size):
    open_sized(page, live_server, sign_in, size, "viewer", "/")
    spark = page.locator(f"#overview-group-{metered.id}-chat svg.overview-spark")
    expect(spark).to_be_visible()
    assert spark.locator("rect").count() == 24
    assert sum(int(v) for v in spark.get_attribute("data-points").split(",")) == 54
    expect(page.locator(f"#overview-group-{metered.id}-chat .overview-calls")).to_have_text("۵۴")
    no_sideways_scroll(page)
    assert_accessible(page, f"overview ({size}, fa)")
    shoot(page, screenshots, f"40-overview-fa-{size}", full_page=True)
    switch_to_english(page)
    expect(page.locator(f"#overview-group-{metered.id}-chat .overview-calls")).to_have_text("54")
    no_sideways_scroll(page)
    assert_accessible(page, f"overview ({size}, en)")


@pytest.mark.parametrize("size", sorted(SIZES))
def test_usage_page_draws_charts_beside_tables(
    page, live_server, sign_in, metered, screenshots, size
):
    open_sized(page, live_server, sign_in, size, "viewer", "/usage?provider=openai")
    charts = page.locator("[data-chart]")
    expect(charts).to_have_count(6)
    expect(charts.first).to_have_attribute("data-drawn", "2")  # two series: two models
    expect(page.locator("[data-chart] canvas")).to_have_count(6)
    canvas = page.locator("[data-chart] canvas").first
    assert canvas.bounding_box()["width"] > 100
    legend = page.locator("[data-chart]").first.locator(".u-legend")
    expect(legend).to_contain_text("gpt-4o-mini")
    first_row = page.locator(".usage-table-wrap table").first.locator("tbody tr").first
    expect(first_row.locator("td").first).to_have_text("۷")  # 5 hours ago: 7 calls
    no_sideways_scroll(page)
    assert_accessible(page, f"usage page ({size}, fa)")
    shoot(page, screenshots, f"41-usage-fa-{size}", full_page=True)
    switch_to_english(page)
    expect(page.locator("[data-chart]").first).to_have_attribute("data-drawn", "2")
    no_sideways_scroll(page)
    assert_accessible(page, f"usage page ({size}, en)")
