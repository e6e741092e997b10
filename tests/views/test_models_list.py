"""The model list: sorted and filtered reads, bulk actions behind a confirmation page,
a Persian flash counting what changed, audited; refusals change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests import support
from tests.html_tree import parse
from webapp.extensions import db as _db
from webapp.models import AIModel, AuditEvent

pytestmark = pytest.mark.usefixtures("fresh_g_per_request")
active_pairs = support.active_pairs


@pytest.fixture
def catalogue(make_provider, make_model):
    a = make_provider("openrouter", name="OpenRouter")
    b = make_provider("stability", name="Stability AI")
    return {
        "gpt": make_model(a, "gpt-4o", caps=["chat"], active=True, display_name="GPT-4o"),
        "claude": make_model(a, "claude", caps=["chat", "code"], display_name="Claude"),
        "coder": make_model(a, "coder", caps=["code"], display_name="Coder"),
        "sdxl": make_model(b, "sdxl", caps=["image"], display_name="Stable Diffusion XL"),
    }


def names(response) -> list[str]:
    tree = parse(response.data)
    if tree.find("tbody") is None:
        return []
    return [tr.find_all("td")[1].find("bdi").text for tr in tree.find("tbody").find_all("tr")]


def audit_count() -> int:
    _db.session.rollback()
    return _db.session.scalar(select(func.count()).select_from(AuditEvent))


def bulk(client, action, models, *, confirm=False, next_url="/models/list"):
    data = {
        "csrf_token": support.csrf_token(client, "/models/list"),
        "action": action,
        "ids": [str(m.id) for m in models],
        "next": next_url,
    }
    if confirm:
        data["confirm"] = "1"
    return client.post("/models/list/action", data=data)


def test_list_sorts_and_filters(login_as, catalogue):
    client = login_as("operator")
    assert names(client.get("/models/list")) == ["Claude", "Coder", "GPT-4o", "Stable Diffusion XL"]
    assert names(client.get("/models/list?sort=name&order=desc"))[0] == "Stable Diffusion XL"
    assert names(client.get("/models/list?provider=stability")) == ["Stable Diffusion XL"]
    assert names(client.get("/models/list?capability=code")) == ["Claude", "Coder"]
    assert names(client.get("/models/list?status=active")) == ["GPT-4o"]
    assert names(client.get("/models/list?q=DIFFUSION")) == ["Stable Diffusion XL"]
    assert names(client.get("/models/list?q=%25")) == []  # a LIKE wildcard is a character
    # The heading of the sorted column says so, and links to the reverse order.
    tree = parse(client.get("/models/list?sort=provider").data)
    th = next(t for t in tree.find_all("th") if t.get("aria-sort"))
    assert th.get("aria-sort") == "ascending" and "order=desc" in th.find("a").get("href")
    # Malformed values are ignored, never an error.
    assert client.get("/models/list?sort=zzz&page=abc&status=x").status_code == 200


def test_viewer_sees_the_list_without_actions(login_as, catalogue):
    client = login_as("viewer")
    tree = parse(client.get("/models/list").data)
    assert not tree.find_all("input", type="checkbox") and tree.by_id("bulk-action") is None
    before = active_pairs()
    token = support.csrf_token(client, "/models/list")
    refused = client.post(
        "/models/list/action",
        data={"csrf_token": token, "action": "disable", "ids": [str(catalogue["gpt"].id)]},
    )
    assert refused.status_code == 403 and active_pairs() == before


def test_disable_asks_first_then_counts_in_persian(login_as, catalogue):
    client = login_as("operator")
    gpt, coder = catalogue["gpt"], catalogue["coder"]
    page = bulk(client, "disable", [gpt, coder])
    tree = parse(page.data)
    assert page.status_code == 200 and "GPT-4o" in tree.by_id("bulk-models").text
    assert (gpt.id, "chat") in active_pairs()  # nothing written before confirming

    done = bulk(client, "disable", [gpt, coder], confirm=True, next_url="/models/list?q=o")
    assert done.status_code == 302 and done.headers["Location"].endswith("/models/list?q=o")
    assert (gpt.id, "chat") not in active_pairs()
    flash = parse(client.get("/models/list").data).by_id("flash-status").text
    assert "۱ مدل از کار خارج شد" in flash  # Coder was not active: only one changed


def test_enable_is_audited_and_names_what_it_replaces(login_as, catalogue):
    client = login_as("operator")
    claude, sdxl, gpt = catalogue["claude"], catalogue["sdxl"], catalogue["gpt"]
    page = parse(bulk(client, "enable", [claude, sdxl]).data)
    assert "فعال کردن این مدل باعث غیرفعال شدن مدل GPT-4o می‌شود" in page.text
    before = audit_count()
    bulk(client, "enable", [claude, sdxl], confirm=True)
    assert {(claude.id, "chat"), (claude.id, "code"), (sdxl.id, "image")} <= active_pairs()
    assert (gpt.id, "chat") not in active_pairs()
    assert audit_count() > before
    flash = parse(client.get("/models/list").data).by_id("flash-status").text
    assert "۲ مدل فعال شد" in flash and "۱ مدل دیگر غیرفعال شد" in flash


def test_enable_two_models_of_one_group_is_refused_and_changes_nothing(login_as, catalogue):
    client = login_as("operator")
    before, events = active_pairs(), audit_count()
    response = bulk(client, "enable", [catalogue["claude"], catalogue["gpt"]], confirm=True)
    assert response.status_code == 302
    alert = parse(client.get("/models/list").data).by_id("flash-alert").text
    assert "در یک گروه‌اند" in alert and "OpenRouter" in alert
    assert active_pairs() == before and audit_count() == events


def test_delete_removes_every_selected_model(login_as, catalogue):
    client = login_as("operator")
    bulk(client, "delete", [catalogue["coder"], catalogue["sdxl"]], confirm=True)
    _db.session.rollback()
    left = set(_db.session.scalars(select(AIModel.name)))
    assert left == {"gpt-4o", "claude"}
    flash = parse(client.get("/models/list").data).by_id("flash-status").text
    assert "۲ مدل حذف شد" in flash


def test_bad_bulk_input_gets_persian_errors_and_changes_nothing(login_as, catalogue):
    client = login_as("operator")
    before, events = active_pairs(), audit_count()
    bulk(client, "explode", [catalogue["gpt"]], confirm=True)
    assert (
        "برای مدل‌های انتخاب‌شده یک کار انتخاب کنید"
        in parse(client.get("/models/list").data).by_id("flash-alert").text
    )
    bulk(client, "delete", [], confirm=True)
    assert (
        "دست‌کم یک مدل انتخاب کنید"
        in parse(client.get("/models/list").data).by_id("flash-alert").text
    )
    client.post(
        "/models/list/action",
        data={
            "csrf_token": support.csrf_token(client, "/models/list"),
            "action": "delete",
            "ids": ["999999", str(catalogue["gpt"].id)],
            "confirm": "1",
        },
    )
    assert "مدل پیدا نشد" in parse(client.get("/models/list").data).by_id("flash-alert").text
    # Without the CSRF token: refused.
    response = client.post("/models/list/action", data={"action": "delete", "ids": ["1"]})
    assert response.status_code == 400
    assert active_pairs() == before and audit_count() == events
