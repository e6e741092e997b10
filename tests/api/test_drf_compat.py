"""A client of the seed's Django REST framework API works unchanged: the README's calls
(``active_model``, ``by_provider``, the PATCH that activates one model and deactivates
two), sent as a DRF client sends them — ``Authorization: Token``, trailing slashes,
``?format=json`` — get the seed's envelope and messages, byte for byte."""

from __future__ import annotations

import json

import pytest

from tests.support import API, envelope_error, envelope_ok, text

RETRIEVED = '{"metaData":{"status":"success","message":"مدل فعال دریافت شد"},"data":{'
NO_ACTIVE = (
    '{"metaData":{"status":"error",'
    '"message":"هیچ مدل فعالی برای این Provider+Capability وجود ندارد"}}'
)
TWO_DEACTIVATED = (
    '{"metaData":{"status":"success","message":"مدل به‌روزرسانی شد. 2 مدل دیگر غیرفعال شد"},'
)
LISTED = '{"metaData":{"status":"success","message":"مدل‌ها دریافت شدند"},"data":['


@pytest.fixture
def drf(client, token_for):
    """A test client sending ``Authorization: Token <key>``, as DRF's TokenAuthentication."""
    headers = {"Authorization": f"Token {token_for('superadmin')}"}

    def call(method: str, path: str, **kwargs):
        kwargs["headers"] = headers | kwargs.get("headers", {})
        return client.open(API + path, method=method, **kwargs)

    return call


@pytest.mark.parametrize("path", ["/ai-models/active_model/", "/ai-models/active_model"])
def test_active_model(drf, group, path):
    response = drf("GET", f"{path}?provider=openrouter&capability=chat&format=json")

    assert response.status_code == 200
    assert text(response).startswith(RETRIEVED)
    data = response.get_json()["data"]
    assert data["id"] == group["gpt"].id
    assert (data["name"], data["model_id"], data["display_name"]) == (
        "gpt-4o",
        "openai/gpt-4o",
        "GPT-4o",
    )
    assert (data["provider_name"], data["capabilities"], data["is_active"]) == (
        "OpenRouter",
        ["chat", "code"],
        True,
    )


def test_active_model_404(drf, group):
    response = drf(
        "GET", "/ai-models/active_model/?format=json&provider=openrouter&capability=image"
    )

    assert response.status_code == 404
    assert text(response) == NO_ACTIVE


def test_by_provider_one_active(drf, group):
    response = drf("GET", "/ai-models/by_provider/?provider=openrouter&capability=chat&format=json")

    assert response.status_code == 200
    assert text(response).startswith(LISTED)
    rows = response.get_json()["data"]
    assert {r["name"] for r in rows} == {"gpt-4o", "claude-3.5", "llama-3"}
    assert [r["name"] for r in rows if r["is_active"]] == ["gpt-4o"]
    assert "pagination" not in response.get_json()


def test_by_provider_pages_on_request(drf, group):
    body = envelope_ok(drf("GET", "/ai-models/by_provider/?provider=openrouter&page=2&page_size=2"))

    assert body["pagination"] == {"page": 2, "page_size": 2, "total": 3, "pages": 2}
    assert [r["name"] for r in body["data"]] == ["llama-3"]  # ordered by display name


def test_patch_activates_and_deactivates_two(drf, make_model, group):
    openrouter = group["provider"]
    target = make_model(openrouter, "gemini", caps=["chat", "code"], display_name="Gemini")
    drf("PATCH", f"/ai-models/{group['claude'].id}/", json={"is_active": True})

    response = drf("PATCH", f"/ai-models/{target.id}/?format=json", json={"is_active": True})

    assert response.status_code == 200
    assert text(response).startswith(TWO_DEACTIVATED)
    listing = drf("GET", "/ai-models/by_provider/?provider=openrouter&format=json")
    assert [m["name"] for m in listing.get_json()["data"] if m["is_active"]] == ["gemini"]


def test_put_is_a_full_update_answering_like_patch(drf, make_model, group):
    openrouter = group["provider"]
    target = make_model(openrouter, "gemini", caps=["chat", "code"], display_name="Gemini")
    drf("PATCH", f"/ai-models/{group['claude'].id}/", json={"is_active": True})
    full = {
        "name": "gemini",
        "model_id": "google/gemini",
        "display_name": "Gemini 2",
        "capabilities": ["chat", "code"],
        "is_active": True,
    }

    response = drf("PUT", f"/ai-models/{target.id}/?format=json", json=full)

    assert response.status_code == 200
    assert text(response).startswith(TWO_DEACTIVATED)
    assert response.get_json()["data"]["display_name"] == "Gemini 2"


def test_put_requires_the_required_fields(drf, group):
    response = drf("PUT", f"/ai-models/{group['claude'].id}/", json={"is_active": True})

    body = envelope_error(response, 400, "ورودی معتبر نیست.")
    required = ["پر کردن این فیلد الزامی است."]
    assert body["errors"] == {
        "name": required,
        "model_id": required,
        "display_name": required,
        "capabilities": required,
    }


def test_put_provider_keeps_the_write_only_key_when_omitted(drf, group):
    key = "sk-or-shared-1234"
    drf("PATCH", "/ai-providers/openrouter/", json={"shared_api_key": key})

    response = drf("PUT", "/ai-providers/openrouter/", json={"slug": "openrouter", "name": "OR"})

    data = envelope_ok(response, 200)["data"]
    assert data["name"] == "OR"
    assert data["has_shared_api_key"] is True
    assert data["shared_api_key_hint"].endswith("1234")
    missing = drf("PUT", "/ai-providers/openrouter/", json={"name": "OR"})
    assert "slug" in envelope_error(missing, 400)["errors"]


def test_token_and_bearer_are_the_same_credential(client, token_for, group):
    token = token_for("viewer")
    path = f"{API}/ai-models/{group['gpt'].id}/"
    by_token = client.get(path, headers={"Authorization": f"Token {token}"})
    by_bearer = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert by_token.status_code == by_bearer.status_code == 200
    assert json.loads(by_token.data) == json.loads(by_bearer.data)
    wrong = client.get(path, headers={"Authorization": "Token not-a-token"})
    envelope_error(wrong, 401, "احراز هویت لازم است: وارد شوید یا یک توکن Bearer معتبر بفرستید.")


def test_other_query_parameters_are_still_refused(drf, group):
    typo = drf("GET", "/ai-models/?format=json&is_actve=true")
    assert envelope_error(typo, 400)["errors"] == {"is_actve": ["پارامتر ناشناخته."]}
    other_format = drf("GET", "/ai-models/?format=api")
    assert list(envelope_error(other_format, 400)["errors"]) == ["format"]
    for path in ("/ai-providers/?format=json&page=1", f"/ai-models/{group['gpt'].id}/?format=json"):
        envelope_ok(drf("GET", path))
