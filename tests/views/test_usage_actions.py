"""The overview's «بررسی اکنون» and the usage page's split: arms side by side, «ارتقا»
through the models page's activation dialog, «پایان آزمایش» through the routing operation;
route and key-source filters on the page and its CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from sqlalchemy import select

from tests.ai.fake_provider import Reply
from tests.html_tree import parse
from tests.queries.test_usage import call, flush, meter
from webapp.extensions import db
from webapp.models import AuditEvent, HealthCheck, RoutingSplit
from webapp.operations import activation, routing


def health_rows() -> list[HealthCheck]:
    db.session.rollback()
    return list(db.session.scalars(select(HealthCheck)))


def live_group(provider, make_model, login_as):
    admin = login_as("operator")
    gpt = make_model(provider, "gpt-4o", caps=["chat"], model_id="openai/gpt-4o")
    activation.activate(gpt, actor=admin.admin)
    return admin, gpt


# --- check now -------------------------------------------------------------------------


def test_check_now_stores_the_result_and_the_overview_shows_it(
    app, provider, make_model, login_as, post
):
    admin, _ = live_group(provider, make_model, login_as)
    tree = parse(admin.get("/").data)
    [form] = [f for f in tree.find_all("form") if "/health/" in (f.get("action") or "")]
    assert form.get("action") == f"/health/{provider.id}/chat/check"

    response = post(admin, form.get("action"))
    assert response.status_code == 302
    [row] = health_rows()
    assert (row.provider_id, row.capability, row.model, row.ok) == (
        provider.id,
        "chat",
        "Gpt 4O",
        True,
    )
    assert row.checked_by_id == admin.admin.id

    page = admin.get("/")
    html = page.get_data(as_text=True)
    assert "پاسخ داد" in html  # the Persian flash
    cell = parse(page.data).find(id=f"overview-group-{provider.id}-chat")
    health = cell.find(class_="overview-health")
    assert "سالم" in health.text
    assert health.find("time") is not None
    assert "۱۴۰" in health.find("time").text  # a Jalali year, Persian digits


def test_a_failing_check_is_stored_as_an_error(
    app, provider, make_model, login_as, post, fake_provider
):
    admin, _ = live_group(provider, make_model, login_as)
    fake_provider.always("GET", "/models", Reply(500))
    post(admin, f"/health/{provider.id}/chat/check")
    [row] = health_rows()
    assert row.ok is False and row.error_kind
    cell = parse(admin.get("/").data).find(id=f"overview-group-{provider.id}-chat")
    assert "خطا" in cell.find(class_="overview-health").text

    fake_provider.always("GET", "/models", Reply(200))
    post(admin, f"/health/{provider.id}/chat/check")
    [row] = health_rows()  # one row per group: the newer result replaced it
    assert row.ok is True


def test_check_now_needs_manage_models_and_a_live_model(app, provider, make_model, login_as, post):
    live_group(provider, make_model, login_as)
    viewer = login_as("viewer")
    assert "/health/" not in viewer.get("/").get_data(as_text=True)
    assert post(viewer, f"/health/{provider.id}/chat/check").status_code == 403
    assert health_rows() == []

    operator = login_as("operator")
    answer = post(operator, f"/health/{provider.id}/image/check", follow_redirects=True)
    assert "مدل فعالی" in answer.get_data(as_text=True)
    assert post(operator, f"/health/{provider.id}/nonsense/check").status_code == 404
    assert health_rows() == []


# --- the split's arms ------------------------------------------------------------------


def split_group(provider, make_model, login_as):
    admin, gpt = live_group(provider, make_model, login_as)
    claude = make_model(provider, "claude", caps=["chat"], model_id="anthropic/claude")
    routing.set_routing(provider.id, "chat", [], [routing.Arm(claude.id, 20)], actor=admin.admin)
    now = datetime.now(UTC)
    for _ in range(8):
        meter(now, latency_ms=100, prompt_tokens=3, completion_tokens=1,
              **call("openrouter", "chat", "openai/gpt-4o", route="live"))  # fmt: skip
    for outcome in ("ok", "ok", "provider_error"):
        meter(now, outcome=outcome, latency_ms=2000, prompt_tokens=5,
              **call("openrouter", "chat", "anthropic/claude", route="split"))  # fmt: skip
    # Not part of the experiment: the arm named explicitly.
    meter(now, **call("openrouter", "chat", "anthropic/claude", route="explicit"))
    flush()
    return admin, gpt, claude


def arms_of(tree) -> dict[str, dict[str, str]]:
    table = tree.find("table", class_="usage-arms")
    heads = [th.get("data-arm") for th in table.find("thead").find_all("th")[1:]]
    found = {h: {} for h in heads}
    for tr in table.find("tbody").find_all("tr"):
        for head, td in zip(heads, tr.find_all("td"), strict=False):
            if td.get("data-metric"):
                found[head][td.get("data-metric")] = td.text.strip()
    return found


def test_a_splits_arms_side_by_side(app, provider, make_model, login_as):
    admin, _, _ = split_group(provider, make_model, login_as)
    tree = parse(admin.get("/usage?provider=openrouter&capability=chat").data)
    arms = arms_of(tree)
    assert list(arms) == ["openai/gpt-4o", "anthropic/claude"]  # the live model first
    assert arms["openai/gpt-4o"]["calls"] == "۸"
    assert arms["anthropic/claude"]["calls"] == "۳"  # its explicit call is not counted
    assert arms["anthropic/claude"]["errors"].startswith("۱")
    assert arms["anthropic/claude"]["prompt_tokens"] == "۱۵"
    head = tree.find("table", class_="usage-arms").find("thead").text
    assert "۸۰٪" in head and "۲۰٪" in head

    # Another capability's filter hides it.
    assert parse(admin.get("/usage?capability=image").data).find(class_="usage-split") is None


def test_promote_posts_to_the_models_pages_activation_and_its_dialog(
    app, provider, make_model, login_as, post
):
    admin, gpt, claude = split_group(provider, make_model, login_as)
    tree = parse(admin.get("/usage?provider=openrouter").data)
    [form] = [f for f in tree.find_all("form") if f.get("hx-post") == "/models/choose"]
    fields = {i.get("name"): i.get("value") for i in form.find_all("input")}
    assert (fields["provider"], fields["capability"], fields["model"]) == (
        str(provider.id),
        "chat",
        str(claude.id),
    )
    # Unconfirmed: the warning dialog naming the live model that would lose its place.
    dialog = post(admin, "/models/choose", fields, headers={"HX-Request": "true"})
    assert "confirm-dialog" in dialog.get_data(as_text=True)
    assert gpt.display_name in dialog.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(select(RoutingSplit.model_id)) == claude.id  # nothing changed yet

    fields["confirm"] = "1"
    assert post(admin, "/models/choose", fields, headers={"HX-Request": "true"}).status_code == 200
    db.session.rollback()
    assert db.session.scalar(select(RoutingSplit.model_id)) is None  # promoted: no longer an arm
    assert parse(admin.get("/usage").data).find(class_="usage-split") is None


def test_end_the_experiment_asks_then_ends_the_split_with_an_audit(
    app, provider, make_model, login_as, post
):
    admin, _, claude = split_group(provider, make_model, login_as)
    url = f"/usage/split/{provider.id}/chat/end"
    tree = parse(admin.get("/usage").data)
    assert any(f.get("action") == url for f in tree.find_all("form"))

    asked = post(admin, url, {"next": "/usage"}, headers={"HX-Request": "true"})
    assert asked.status_code == 200
    dialog = parse(asked.data).find("dialog")
    assert "پایان" in dialog.text and claude.display_name in dialog.text
    page = post(admin, url, {"next": "/usage"})  # without JavaScript: a page that asks
    assert page.status_code == 200 and parse(page.data).find("dialog") is not None
    db.session.rollback()
    assert db.session.scalar(select(RoutingSplit.model_id)) == claude.id

    done = post(admin, url, {"next": "/usage", "confirm": "1"}, headers={"HX-Request": "true"})
    assert done.headers["HX-Redirect"] == "/usage"
    db.session.rollback()
    assert db.session.scalar(select(RoutingSplit.model_id)) is None
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "routing.update")
    ).all()[-1]
    assert event.actor_id == admin.admin.id
    assert "پایان" in admin.get("/usage").get_data(as_text=True)  # the flash, in Persian

    again = post(admin, url, {"next": "/usage", "confirm": "1"}, follow_redirects=True)
    assert "آزمایشی" in again.get_data(as_text=True)  # no split left to end


def test_ending_a_split_needs_manage_models(app, provider, make_model, login_as, post):
    split_group(provider, make_model, login_as)
    viewer = login_as("viewer")
    tree = parse(viewer.get("/usage").data)
    assert tree.find(class_="usage-split") is not None  # a viewer sees the arms…
    assert not tree.find(class_="usage-split").find_all("form")  # …and no buttons
    assert post(viewer, f"/usage/split/{provider.id}/chat/end", {"confirm": "1"}).status_code == 403
    db.session.rollback()
    assert db.session.scalar(select(RoutingSplit.model_id)) is not None


# --- route and key-source filters ------------------------------------------------------


def test_route_and_key_source_filter_the_page_and_the_csv(app, make_provider, login_as):
    admin = login_as("viewer")
    now = datetime.now(UTC)
    meter(now, **call(route="live", key_source="shared"))
    meter(now, **call(route="split", key_source="personal"))
    meter(now, **call(route="split", key_source="shared"))
    flush()
    tree = parse(admin.get("/usage?route=split").data)
    assert tree.find("table").find("tbody").find("td").text == "۲"
    tree = parse(admin.get("/usage?route=split&key_source=personal").data)
    assert tree.find("table").find("tbody").find("td").text == "۱"
    [link] = [a for a in tree.find_all("a") if "CSV" in a.text]
    assert "route=split" in link.get("href") and "key_source=personal" in link.get("href")
    rows = list(csv.DictReader(io.StringIO(admin.get(link.get("href")).get_data(as_text=True))))
    assert [r["calls"] for r in rows] == ["1"]


def test_bad_route_or_key_source_is_a_persian_error(app, login_as):
    admin = login_as("viewer")
    response = admin.get("/usage?route=sideways&key_source=borrowed")
    assert response.status_code == 400
    tree = parse(response.data)
    assert "live" in tree.find(id="usage-route-error").text
    assert "personal" in tree.find(id="usage-key_source-error").text
    assert not [el for el in tree.iter() if el.has("data-chart")]
    assert admin.get("/usage/usage.csv?route=sideways").status_code == 400
