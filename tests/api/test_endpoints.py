"""What each route answers: shapes, paging, filters, the preview, providers' keys,
language, error envelopes and the active-model lookup's query budget."""

from __future__ import annotations

import pytest

from tests import support
from tests.support import API, envelope_error, envelope_ok
from webapp.api.schemas import Model, Provider
from webapp.extensions import db
from webapp.models import AIModel, AuditEvent


def test_model_shape_is_exactly_the_contract(api, group):
    data = envelope_ok(api("GET", f"/ai-models/{group['gpt'].id}/"), 200, "مدل دریافت شد")["data"]
    assert list(data) == Model.model_json_schema()["required"]
    assert data["created_by"] is None  # made by a factory, no admin
    assert data["created_at"].endswith("+00:00")


def test_audit_usernames_come_back(api, group):
    body = api("PATCH", f"/ai-models/{group['claude'].id}/", json={"display_name": "Claude"})
    data = envelope_ok(body, 200, "مدل به‌روزرسانی شد")["data"]
    assert data["display_name"] == "Claude"
    assert data["updated_by"].startswith("superadmin")
    assert data["created_by"] is None


@pytest.mark.parametrize(
    "path",
    [
        "/ai-models/active_model?provider=openrouter&capability=chat",
        "/ai-models/by_provider?provider=openrouter",
        "/ai-models",
        "/ai-models/{gpt}",
        "/ai-models/{gpt}/conflicts",
        "/ai-providers",
        "/ai-providers/openrouter",
    ],
)
def test_paths_work_without_trailing_slash(api, group, path):
    path = path.format(gpt=group["gpt"].id)
    envelope_ok(api("GET", path))
    with_slash = path.replace("?", "/?") if "?" in path else path + "/"
    envelope_ok(api("GET", with_slash))


def test_list_is_paged(api, group, make_model):
    for i in range(4):
        make_model(group["provider"], f"extra-{i}")
    first = envelope_ok(api("GET", "/ai-models/?page_size=3"), 200, "مدل‌ها دریافت شدند")
    assert first["pagination"] == {"page": 1, "page_size": 3, "total": 7, "pages": 3}
    assert len(first["data"]) == 3
    third = envelope_ok(api("GET", "/ai-models/?page_size=3&page=3"))
    assert len(third["data"]) == 1
    ids = [m["id"] for m in first["data"]] + [m["id"] for m in third["data"]]
    assert ids == sorted(ids)
    beyond = envelope_ok(api("GET", "/ai-models/?page_size=3&page=9"))
    assert beyond["data"] == [] and beyond["pagination"]["total"] == 7
    default = envelope_ok(api("GET", "/ai-models/"))
    assert default["pagination"]["page_size"] == 20


def test_list_filters(api, group, make_provider, make_model):
    other = make_provider("openai")
    make_model(other, "dall-e", caps=["image"], active=True)

    def names(query):
        return sorted(m["name"] for m in envelope_ok(api("GET", "/ai-models/?" + query))["data"])

    assert names("provider=openai") == ["dall-e"]
    assert names("capability=code") == ["gpt-4o", "llama-3"]
    assert names("is_active=true") == ["dall-e", "gpt-4o"]
    assert names("is_active=false") == ["claude-3.5", "llama-3"]
    assert names("provider=openrouter&capability=chat&is_active=true") == ["gpt-4o"]
    api("PATCH", f"/ai-models/{group['claude'].id}/", json={"is_active": True})
    # gpt-4o is still active (for code) but not for chat
    assert names("capability=chat&is_active=true") == ["claude-3.5"]
    assert names("capability=code&is_active=true") == ["gpt-4o"]


def test_by_provider_with_capability(api, group, make_model):
    make_model(group["provider"], "sdxl", caps=["image"])
    body = envelope_ok(api("GET", "/ai-models/by_provider/?provider=openrouter&capability=code"))
    assert sorted(m["name"] for m in body["data"]) == ["gpt-4o", "llama-3"]
    assert "pagination" not in body


def test_create_model_inactive_then_active(api, group):
    payload = {
        "provider": "openrouter",
        "name": "gemini",
        "model_id": "google/gemini",
        "display_name": "Gemini",
        "capabilities": ["code", "chat", "chat"],
    }
    created = api("POST", "/ai-models/", json=payload)
    body = envelope_ok(created, 201, "مدل ایجاد شد")
    assert body["data"]["capabilities"] == ["chat", "code"]
    assert body["data"]["is_active"] is False
    assert created.headers["Location"].endswith(f"{API}/ai-models/{body['data']['id']}/")

    second = {"name": "gemini-2", "model_id": "google/gemini-2", "is_active": True}
    live = api("POST", "/ai-models/", json=payload | second)
    body = envelope_ok(live, 201, "مدل ایجاد شد. 1 مدل دیگر غیرفعال شد")
    assert body["data"]["active_capabilities"] == ["chat", "code"]


def test_patch_capabilities_and_deactivate(api, group):
    gpt = group["gpt"].id
    body = envelope_ok(api("PATCH", f"/ai-models/{gpt}/", json={"capabilities": ["chat"]}))
    assert body["data"]["capabilities"] == ["chat"]
    assert body["data"]["active_capabilities"] == ["chat"]  # dropping code dropped its activation
    body = envelope_ok(api("PATCH", f"/ai-models/{gpt}/", json={"is_active": False}))
    assert body["data"]["is_active"] is False
    envelope_error(api("GET", "/ai-models/active_model/?provider=openrouter&capability=chat"), 404)


def test_patch_active_again_deactivates_nobody(api, group):
    response = api("PATCH", f"/ai-models/{group['gpt'].id}/", json={"is_active": True})
    envelope_ok(response, 200, "مدل به‌روزرسانی شد")


def test_delete_model(api, group):
    envelope_ok(api("DELETE", f"/ai-models/{group['gpt'].id}/"), 200, "مدل حذف شد")
    envelope_error(api("GET", f"/ai-models/{group['gpt'].id}/"), 404, "مدل پیدا نشد.")
    envelope_error(
        api("GET", "/ai-models/active_model/?provider=openrouter&capability=chat"),
        404,
        "هیچ مدل فعالی برای این Provider+Capability وجود ندارد",
    )


def test_conflicts_preview_changes_nothing(api, group):
    events = AuditEvent.query.count()
    response = api("GET", f"/ai-models/{group['llama'].id}/conflicts/")
    body = envelope_ok(response, 200, "فعال کردن این مدل باعث غیرفعال شدن 1 مدل دیگر می‌شود")
    data = body["data"]
    assert data["model"]["id"] == group["llama"].id
    assert data["capabilities"] == ["chat", "code"]
    assert data["deactivated_count"] == 1
    [conflict] = data["conflicts"]
    assert conflict["model"]["name"] == "gpt-4o"
    assert conflict["capabilities"] == ["chat", "code"]
    assert conflict["message"] == "فعال کردن این مدل باعث غیرفعال شدن مدل GPT-4o می‌شود"
    assert AuditEvent.query.count() == events
    db.session.expire_all()
    assert db.session.get(AIModel, group["gpt"].id).active_capabilities == ["chat", "code"]

    only_code = envelope_ok(
        api("GET", f"/ai-models/{group['llama'].id}/conflicts/?capability=code")
    )
    assert only_code["data"]["capabilities"] == ["code"]
    none = api("GET", f"/ai-models/{group['gpt'].id}/conflicts/")
    envelope_ok(none, 200, "فعال کردن این مدل هیچ مدل دیگری را غیرفعال نمی‌کند")
    assert none.get_json()["data"]["conflicts"] == []


# --- providers -----------------------------------------------------------------------------


def test_provider_crud_and_write_only_key(api, group):
    key = "sk-live-secret-9f8e7d6c"
    created = api(
        "POST",
        "/ai-providers/",
        json={
            "slug": "anthropic",
            "name": "Anthropic",
            "base_url": "https://api.anthropic.com/v1/",
            "shared_api_enabled": True,
            "shared_api_key": key,
        },
    )
    body = envelope_ok(created, 201, "ارائه‌دهنده ایجاد شد")
    assert created.headers["Location"].endswith(f"{API}/ai-providers/anthropic/")
    data = body["data"]
    assert list(data) == Provider.model_json_schema()["required"]
    assert data["has_shared_api_key"] is True
    assert data["shared_api_key_hint"] == "…7d6c"
    assert data["base_url"] == "https://api.anthropic.com/v1"
    assert data["created_by"].startswith("superadmin")

    for path in ("/ai-providers/anthropic/", "/ai-providers/"):
        text = api("GET", path).get_data(as_text=True)
        assert key not in text and "shared_api_key_encrypted" not in text

    body = envelope_ok(
        api("PATCH", "/ai-providers/anthropic/", json={"shared_api_key": None, "name": "A"}),
        200,
        "ارائه‌دهنده به‌روزرسانی شد",
    )
    assert body["data"]["has_shared_api_key"] is False
    assert body["data"]["shared_api_key_hint"] == ""
    assert body["data"]["name"] == "A"

    renamed = envelope_ok(api("PATCH", "/ai-providers/anthropic/", json={"slug": "claude-ai"}))
    assert renamed["data"]["slug"] == "claude-ai"
    envelope_ok(api("DELETE", "/ai-providers/claude-ai/"), 200, "ارائه‌دهنده حذف شد")
    envelope_error(api("GET", "/ai-providers/claude-ai/"), 404, "ارائه‌دهنده پیدا نشد.")


def test_providers_are_paged(api, group, make_provider):
    make_provider("openai")
    body = envelope_ok(api("GET", "/ai-providers/?page_size=1"), 200, "ارائه‌دهندگان دریافت شدند")
    assert body["pagination"] == {"page": 1, "page_size": 1, "total": 2, "pages": 2}
    assert [p["slug"] for p in body["data"]] == ["openrouter"]


def test_disabled_provider_serves_no_active_model(api, group):
    envelope_ok(api("PATCH", "/ai-providers/openrouter/", json={"is_enabled": False}))
    envelope_error(
        api("GET", "/ai-models/active_model/?provider=openrouter&capability=chat"),
        404,
        "هیچ مدل فعالی برای این Provider+Capability وجود ندارد",
    )


def test_deleting_a_provider_deletes_its_models(api, group):
    envelope_ok(api("DELETE", "/ai-providers/openrouter/"))
    assert envelope_ok(api("GET", "/ai-models/"))["data"] == []


# --- language --------------------------------------------------------------------------------


def test_persian_by_default_whatever_the_ui_language(api, group, client):
    client.set_cookie("lang", "en")
    path = "/ai-models/active_model/?provider=openrouter&capability=chat&lang=en"
    # ?lang is not an API parameter: refused, and still in Persian
    assert api("GET", path).get_json()["metaData"]["message"] == "ورودی معتبر نیست."
    response = api("GET", "/ai-models/active_model/?provider=openrouter&capability=chat")
    envelope_ok(response, 200, "مدل فعال دریافت شد")
    assert response.headers["Content-Language"] == "fa"
    assert "Accept-Language" in response.headers["Vary"]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("en", "Active model retrieved"),
        ("en-US,en;q=0.9", "Active model retrieved"),
        ("fa,en;q=0.8", "مدل فعال دریافت شد"),
        ("de", "مدل فعال دریافت شد"),
        ("*", "مدل فعال دریافت شد"),
        (";;;garbage", "مدل فعال دریافت شد"),
    ],
)
def test_english_only_when_asked(api, group, header, message):
    response = api(
        "GET",
        "/ai-models/active_model/?provider=openrouter&capability=chat",
        headers={"Accept-Language": header},
    )
    envelope_ok(response, 200, message)


def test_errors_follow_the_language_too(client):
    response = client.get(f"{API}/ai-models/", headers={"Accept-Language": "en"})
    envelope_error(
        response, 401, "Authentication is required: sign in or send a valid bearer token."
    )


# --- errors are never HTML ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/nothing-here"),
        ("GET", "/api/v2/ai-models/"),
        ("GET", "/api/"),
        ("POST", "/api/v1/nothing-here"),  # 404 before any CSRF check
        ("DELETE", "/api/v1/ai-models/active_model/x/y"),
    ],
)
def test_unknown_api_urls_are_404_envelopes(client, method, path):
    envelope_error(client.open(path, method=method), 404, "نشانی درخواست‌شده پیدا نشد.")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/v1/ai-models/", "GET, HEAD, OPTIONS, POST"),
        ("DELETE", "/api/v1/ai-models/active_model/", "GET, HEAD, OPTIONS"),
        ("POST", "/api/v1/ai-providers/openrouter/", "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"),
        ("POST", "/api/v1/openapi.json", "GET, HEAD, OPTIONS"),
    ],
)
def test_wrong_methods_are_405_envelopes(client, bearer, method, path, allow):
    response = client.open(path, method=method, headers=bearer("viewer"))
    envelope_error(response, 405, "این متد برای این نشانی مجاز نیست.")
    assert response.headers["Allow"] == allow


def test_internal_errors_are_500_envelopes(app, api, group, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("webapp.queries.lookup.get_active_model", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = api("GET", "/ai-models/active_model/?provider=openrouter&capability=chat")
    envelope_error(response, 500, "خطای داخلی رخ داد؛ لطفاً بعداً دوباره تلاش کنید.")
    assert "boom" not in response.get_data(as_text=True)


def test_page_errors_stay_html(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


# --- the cached lookup's query budget -------------------------------------------------------------


def test_cached_active_model_runs_no_query_beyond_authentication(
    api, group, count_queries, monkeypatch
):
    support.trust_for_an_hour(monkeypatch)  # a busy machine's second may pass in between
    path = "/ai-models/active_model/?provider=openrouter&capability=chat"
    envelope_ok(api("GET", path))  # fills the cache (and records the token's use)

    with count_queries() as log:
        envelope_ok(api("GET", path), 200, "مدل فعال دریافت شد")

    # Authentication by bearer token: the token, then its admin. Nothing else.
    assert len(log) <= 2, log
    for statement in log:
        assert "api_token" in statement or "FROM admin" in statement, statement


def test_uncached_active_model_is_one_query(api, group, count_queries):
    from webapp.extensions import cache

    path = "/ai-models/active_model/?provider=openrouter&capability=chat"
    envelope_ok(api("GET", path))
    cache.clear()
    with count_queries() as log:
        envelope_ok(api("GET", path))
    lookups = [s for s in log if "model_capability" in s]
    others = [s for s in log if "model_capability" not in s]
    assert len(lookups) == 1
    assert all("api_token" in s or "FROM admin" in s for s in others), others


def test_patch_active_capabilities_activates_exactly_those(api, group):
    llama = group["llama"].id
    response = api("PATCH", f"/ai-models/{llama}/", json={"active_capabilities": ["code"]})
    body = envelope_ok(response, 200, "مدل به‌روزرسانی شد. 1 مدل دیگر غیرفعال شد")
    assert body["data"]["active_capabilities"] == ["code"]
    gpt = envelope_ok(api("GET", f"/ai-models/{group['gpt'].id}/"))["data"]
    assert gpt["active_capabilities"] == ["chat"]  # kept chat, lost code only

    body = envelope_ok(api("PATCH", f"/ai-models/{llama}/", json={"active_capabilities": ["chat"]}))
    assert body["data"]["active_capabilities"] == ["chat"]  # code dropped, chat taken
    assert body["metaData"]["message"] == "مدل به‌روزرسانی شد. 1 مدل دیگر غیرفعال شد"
    envelope_error(api("GET", "/ai-models/active_model/?provider=openrouter&capability=code"), 404)

    body = envelope_ok(api("PATCH", f"/ai-models/{llama}/", json={"active_capabilities": []}))
    assert body["data"]["is_active"] is False
    assert body["metaData"]["message"] == "مدل به‌روزرسانی شد"


def test_patch_capabilities_and_active_capabilities_together(api, group):
    claude = group["claude"].id
    response = api(
        "PATCH",
        f"/ai-models/{claude}/",
        json={"capabilities": ["chat", "image"], "active_capabilities": ["image"]},
    )
    data = envelope_ok(response, 200, "مدل به‌روزرسانی شد")["data"]
    assert data["capabilities"] == ["chat", "image"]
    assert data["active_capabilities"] == ["image"]
