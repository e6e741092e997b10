"""The overview (home page) and the usage page: metered calls show with the right counts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from tests.html_tree import parse
from tests.queries.test_usage import call, flush, meter
from webapp.operations import activation


def charts_in(tree) -> list:
    return [el for el in tree.iter() if el.has("data-chart")]


def body(response) -> str:
    return response.get_data(as_text=True)


def catalogue(make_provider, make_model, login_as):
    openai = make_provider("openai", name="OpenAI")
    admin = login_as("operator")
    gpt = make_model(openai, "gpt-4o", caps=["chat"], model_id="gpt-4o", display_name="GPT-4o")
    activation.activate(gpt, actor=admin.admin)
    make_model(openai, "dall-e", caps=["image"], model_id="dall-e-3", display_name="DALL·E")
    return openai, admin


def test_home_is_the_overview_with_each_groups_last_24_hours(
    app, make_provider, make_model, login_as
):
    openai, admin = catalogue(make_provider, make_model, login_as)
    now = datetime.now(UTC)
    for _ in range(18):
        meter(now - timedelta(hours=2), latency_ms=300, **call(model="gpt-4o"))
    for _ in range(2):
        meter(now, outcome="provider_error", latency_ms=300, **call(model="gpt-4o"))
    meter(now - timedelta(hours=30), **call(model="gpt-4o"))  # older than 24 hours
    flush()

    response = admin.get("/")
    assert response.status_code == 200
    tree = parse(response.data)
    chat = tree.find(id=f"overview-group-{openai.id}-chat")
    assert chat is not None
    assert "GPT-4o" in chat.find(class_="live-model").text
    assert chat.find(class_="overview-calls").text.strip() == "۲۰"
    assert chat.find(class_="overview-errors").text.strip() == "۱۰.۰٪"
    assert "is-failing" in chat.get("class")  # 10 % errors is high
    assert admin.admin.username in chat.text
    spark = chat.find("svg")
    assert spark.get("data-points").split(",").count("18") == 1
    assert len(spark.find_all("rect")) == 24
    links = {a.get("href") for a in chat.find_all("a")}
    assert f"/models#group-{openai.id}-chat" in links
    assert any(href.startswith("/history?") for href in links)

    image = tree.find(id=f"overview-group-{openai.id}-image")
    assert "is-empty" in image.get("class")  # no live model stands out
    assert image.find(class_="overview-calls").text.strip() == "۰"


def test_usage_page_shows_a_table_per_chart_and_a_csv(app, make_provider, make_model, login_as):
    _, admin = catalogue(make_provider, make_model, login_as)
    now = datetime.now(UTC)
    for _ in range(4):
        meter(now, latency_ms=50, prompt_tokens=7, completion_tokens=1, **call())
    flush()
    response = admin.get("/usage?provider=openai")
    assert response.status_code == 200
    tree = parse(response.data)
    assert len(charts_in(tree)) == 6
    tables = tree.find_all("table")
    assert len(tables) == 6
    calls = tables[0].find("tbody").find("td").text
    assert calls == "۴"
    tokens = tables[4].find("tbody").find("td").text
    assert tokens == "۲۸"
    [link] = [a for a in tree.find_all("a") if "CSV" in a.text]
    exported = admin.get(link.get("href"))
    assert exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(body(exported))))
    assert [(r["model"], r["calls"], r["prompt_tokens"]) for r in rows] == [("gpt-4o", "4", "28")]


def test_usage_page_in_english_has_ascii_digits(app, make_provider, make_model, login_as):
    _, admin = catalogue(make_provider, make_model, login_as)
    meter(datetime.now(UTC), **call())
    flush()
    tree = parse(admin.get("/usage?lang=en").data)
    assert tree.find("table").find("tbody").find("td").text == "1"


def test_bad_usage_filters_show_a_persian_error_and_no_chart(app, login_as):
    client = login_as("viewer")
    response = client.get("/usage?from=fooday&bucket=week")
    assert response.status_code == 400
    tree = parse(response.data)
    assert tree.find(id="usage-from-error") is not None
    assert tree.find(id="usage-bucket-error") is not None
    assert "روز" in tree.find(id="usage-from-error").text
    assert not charts_in(tree)
    assert client.get("/usage/usage.csv?bucket=week").status_code == 400


def test_the_navigation_links_the_overview_and_usage(login_as):
    tree = parse(login_as("viewer").get("/").data)
    hrefs = {a.get("href") for a in tree.find("nav").find_all("a", class_="nav-link")}
    assert {"/", "/usage"} <= hrefs


def test_usage_page_takes_a_jalali_range_and_labels_tehran_days(
    app, make_provider, make_model, login_as
):
    _, admin = catalogue(make_provider, make_model, login_as)
    meter(datetime(2026, 3, 9, 21, 0, tzinfo=UTC), **call())  # 00:30, 19 Esfand 1404 (Tehran)
    # 00:29 on the 20th, but its hour bucket starts at 23:30 on the 19th:
    meter(datetime(2026, 3, 10, 20, 59, tzinfo=UTC), **call())
    flush()
    tree = parse(admin.get("/usage?from=۱۴۰۴/۱۲/۱۹&to=1404/12/19&bucket=day").data)
    [row] = tree.find("table").find("tbody").find_all("tr")
    assert row.find("th").text == "۱۴۰۴/۱۲/۱۹"
    assert row.find("td").text == "۲"
