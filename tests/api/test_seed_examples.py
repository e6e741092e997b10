"""The seed's "API Endpoints Summary", example by example: status, envelope, Persian text."""

from __future__ import annotations

from tests.support import envelope_error, envelope_ok


def test_get_active_model_200(api, group):
    response = api("GET", "/ai-models/active_model/?provider=openrouter&capability=chat")

    body = envelope_ok(response, 200, "مدل فعال دریافت شد")
    data = body["data"]
    assert data["id"] == group["gpt"].id
    assert data["name"] == "gpt-4o"
    assert data["model_id"] == "openai/gpt-4o"
    assert data["display_name"] == "GPT-4o"
    assert data["provider"] == "openrouter"
    assert data["provider_name"] == "OpenRouter"
    assert data["capabilities"] == ["chat", "code"]
    assert data["is_active"] is True


def test_get_active_model_404(api, group):
    response = api("GET", "/ai-models/active_model/?provider=openrouter&capability=image")

    envelope_error(response, 404, "هیچ مدل فعالی برای این Provider+Capability وجود ندارد")


def test_list_models_by_provider_one_active(api, group):
    response = api("GET", "/ai-models/by_provider/?provider=openrouter&capability=chat")

    body = envelope_ok(response, 200)
    rows = body["data"]
    assert {r["name"] for r in rows} == {"gpt-4o", "claude-3.5", "llama-3"}
    assert [r["name"] for r in rows if r["is_active"]] == ["gpt-4o"]  # only one active


def test_patch_activates_and_says_two_others_were_deactivated(api, make_model, group):
    openrouter = group["provider"]
    # Two other models hold what the target will take: chat (claude) and code (gpt-4o).
    target = make_model(openrouter, "gemini", caps=["chat", "code"], display_name="Gemini")
    api("PATCH", f"/ai-models/{group['claude'].id}/", json={"is_active": True})

    response = api("PATCH", f"/ai-models/{target.id}/", json={"is_active": True})

    body = envelope_ok(response, 200, "مدل به‌روزرسانی شد. 2 مدل دیگر غیرفعال شد")
    assert body["data"]["active_capabilities"] == ["chat", "code"]
    listing = api("GET", "/ai-models/by_provider/?provider=openrouter").get_json()["data"]
    assert [m["name"] for m in listing if m["is_active"]] == ["gemini"]
