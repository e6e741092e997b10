"""Every error of DESIGN.md §8, in OpenAI's shape, through the SDK's own exception types."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests import support
from tests.ai.fake_provider import Reply, closed_port
from tests.support import SHARED_KEY

HI = [{"role": "user", "content": "سلام"}]
NO_ACTIVE_MODEL = "هیچ مدل فعالی برای این Provider+Capability وجود ندارد"


def error_of(exc: openai.APIStatusError) -> dict:
    body = exc.response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "code", "param"}
    return body["error"]


def persian(text: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in text)


def refused(exc: openai.APIStatusError, fake_provider) -> dict:
    """The error of a call the gateway refused itself: OpenAI's shape, a Persian message,
    nothing sent to the provider."""
    error = error_of(exc)
    assert persian(error["message"])
    assert fake_provider.seen() == []
    return error


@pytest.mark.parametrize("token", ["mcp_not-a-token", "x" * 300])
def test_a_bad_token_is_401(sdk, catalogue, fake_provider, token):
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk(token).chat.completions.create(model="openrouter", messages=HI)

    error = refused(caught.value, fake_provider)
    assert caught.value.status_code == 401
    assert (error["code"], error["type"]) == ("invalid_api_key", "authentication_error")


@pytest.mark.parametrize("header", [None, "Basic YWRtaW46cGFzcw==", "Bearer", "Token"])
def test_no_token_is_401(base_url, catalogue, header):
    headers = {"Authorization": header} if header is not None else {}
    response = httpx.get(f"{base_url}/models", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_dashboard_session_is_not_a_token(app, live_server, base_url, make_admin, catalogue):
    admin = make_admin("superadmin")
    with httpx.Client(base_url=live_server.url) as browser:
        page = browser.get("/login")
        import re

        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
        signed_in = browser.post(
            "/login",
            data={"username": admin.username, "password": support.PASSWORD, "csrf_token": csrf},
        )
        assert signed_in.status_code == 302
        response = browser.post(
            "/v1/chat/completions", json={"model": "openrouter", "messages": HI}
        )
    assert response.status_code == 401


def test_a_revoked_token_is_401(sdk, role_token, catalogue):
    from webapp.operations import admins

    admin, token = role_token()
    client = sdk(token)
    client.models.list()
    token_row = admin_token(admin)
    admins.revoke_token(token_row)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def admin_token(admin):
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import ApiToken

    return db.session.scalar(select(ApiToken).where(ApiToken.admin_id == admin.id))


@pytest.mark.parametrize(
    "name",
    ["nowhere", "nowhere:chat", "nowhere/some-model", "openrouter/not-registered"],
)
def test_unknown_provider_or_model_is_404(sdk, catalogue, fake_provider, name):
    with pytest.raises(openai.NotFoundError) as caught:
        sdk().chat.completions.create(model=name, messages=HI)

    error = refused(caught.value, fake_provider)
    assert (error["code"], error["type"], error["param"]) == (
        "model_not_found",
        "not_found_error",
        "model",
    )


def test_a_disabled_provider_is_404(sdk, catalogue, fake_provider):
    from webapp.operations import catalog

    catalog.update_provider(catalogue["gpt"].provider, {"is_enabled": False}, actor="test")
    for name in ("openrouter", "openrouter/openai/gpt-4o"):
        with pytest.raises(openai.NotFoundError) as caught:
            sdk().chat.completions.create(model=name, messages=HI)
        assert error_of(caught.value)["code"] == "model_not_found"
    assert fake_provider.seen() == []


def test_a_group_without_live_model_is_404_no_active_model(sdk, provider, fake_provider):
    with pytest.raises(openai.NotFoundError) as caught:
        sdk().chat.completions.create(model="openrouter:code", messages=HI)

    error = error_of(caught.value)
    assert error["code"] == "no_active_model"
    assert error["message"] == NO_ACTIVE_MODEL
    assert fake_provider.seen() == []


def test_english_when_the_client_prefers_it(sdk, provider):
    client = sdk(default_headers={"Accept-Language": "en-US,en;q=0.9,fa;q=0.5"})
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="openrouter", messages=HI)
    assert error_of(caught.value)["message"] == (
        "There is no active model for this Provider+Capability"
    )


@pytest.mark.parametrize(
    ("endpoint", "name"),
    [
        ("chat", "openrouter:image"),
        ("chat", "openrouter:embedding"),
        ("chat", "openrouter:nonsense"),
        ("embeddings", "openrouter:chat"),
        ("images", "openrouter:code"),
        ("chat", "openrouter/"),
        ("chat", ":chat"),
        ("chat", ""),
    ],
)
def test_names_that_cannot_mean_anything_here_are_400(
    sdk, catalogue, fake_provider, endpoint, name
):
    client = sdk()
    call = {
        "chat": lambda: client.chat.completions.create(model=name, messages=HI),
        "embeddings": lambda: client.embeddings.create(model=name, input="x"),
        "images": lambda: client.images.generate(model=name, prompt="x"),
    }[endpoint]

    with pytest.raises(openai.BadRequestError) as caught:
        call()

    error = refused(caught.value, fake_provider)
    assert (error["code"], error["type"], error["param"]) == (
        "invalid_request_error",
        "invalid_request_error",
        "model",
    )


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2]", b'{"messages": []}', b'{"model": 42}', b""],
)
def test_malformed_requests_are_400(base_url, role_token, catalogue, fake_provider, raw):
    _, token = role_token()
    response = httpx.post(
        f"{base_url}/chat/completions",
        content=raw,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert persian(error["message"])
    assert fake_provider.seen() == []


def test_no_key_is_403_and_nothing_is_sent(sdk, role_token, catalogue, fake_provider):
    _, token = role_token("viewer")  # no personal key, may not use the shared one
    with pytest.raises(openai.PermissionDeniedError) as caught:
        sdk(token).chat.completions.create(model="openrouter", messages=HI)

    error = refused(caught.value, fake_provider)
    assert (error["code"], error["type"]) == ("no_api_access", "permission_error")
    assert caught.value.response.headers["X-Panel-Model"] == "openai/gpt-4o"


def test_the_providers_429_is_429_rate_limited(sdk, catalogue, fake_provider):
    fake_provider.always("POST", "/chat/completions", Reply(429, headers={"Retry-After": "17"}))
    with pytest.raises(openai.RateLimitError) as caught:
        sdk().chat.completions.create(model="openrouter", messages=HI)

    error = error_of(caught.value)
    assert (error["code"], error["type"]) == ("rate_limited", "rate_limit_error")
    assert caught.value.response.headers["Retry-After"] == "17"
    assert caught.value.response.headers["X-Panel-Provider"] == "openrouter"
    assert len(fake_provider.seen()) == 1  # the gateway does not retry; the client decides


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_provider_5xx_is_502(sdk, catalogue, fake_provider, status):
    fake_provider.always("POST", "/chat/completions", Reply(status))
    with pytest.raises(openai.InternalServerError) as caught:
        sdk().chat.completions.create(model="openrouter", messages=HI)

    error = error_of(caught.value)
    assert caught.value.status_code == 502
    assert (error["code"], error["type"]) == ("provider_error", "api_error")
    assert persian(error["message"])


def test_an_unreachable_provider_is_502(sdk, make_provider, make_model, fake_provider):
    dead = make_provider(
        "dead",
        base_url=f"http://127.0.0.1:{closed_port()}/v1",
        shared_api_enabled=True,
        shared_api_key=SHARED_KEY,
    )
    make_model(dead, "m", caps=["chat"], active=True)
    with pytest.raises(openai.InternalServerError) as caught:
        sdk().chat.completions.create(model="dead", messages=HI)
    assert caught.value.status_code == 502
    assert error_of(caught.value)["code"] == "provider_error"


def test_a_provider_timeout_is_504(app, sdk, catalogue, fake_provider):
    app.config["GATEWAY_TIMEOUT"] = 0.3
    fake_provider.script("POST", "/chat/completions", Reply(delay=1.0))
    with pytest.raises(openai.APIStatusError) as caught:
        sdk().chat.completions.create(model="openrouter", messages=HI)

    assert caught.value.status_code == 504
    error = error_of(caught.value)
    assert (error["code"], error["type"]) == ("provider_timeout", "api_error")


def test_another_provider_4xx_keeps_its_status_and_message_without_the_key(
    sdk, catalogue, fake_provider
):
    message = f"Model does not exist (key {SHARED_KEY} has no access)"
    fake_provider.always(
        "POST",
        "/chat/completions",
        Reply(
            422,
            {
                "error": {
                    "message": message,
                    "type": "invalid_request_error",
                    "code": "model_gone",
                    "param": "model",
                }
            },
        ),
    )
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        sdk().chat.completions.create(model="openrouter", messages=HI)

    error = error_of(caught.value)
    assert caught.value.status_code == 422
    assert error["code"] == "model_gone"
    assert error["message"].startswith("Model does not exist (key ")
    assert SHARED_KEY not in caught.value.response.text


def test_unknown_gateway_urls_answer_in_openais_shape(base_url, role_token):
    _, token = role_token()
    missing = httpx.post(f"{base_url}/completions", json={}, headers={"Authorization": token})
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"
    wrong_method = httpx.get(f"{base_url}/chat/completions")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["type"] == "invalid_request_error"


def test_an_oversized_body_is_413(app, base_url, role_token, catalogue, fake_provider):
    app.config["GATEWAY_MAX_BODY"] = 1000
    _, token = role_token()
    response = httpx.post(
        f"{base_url}/chat/completions",
        json={"model": "openrouter", "messages": [{"role": "user", "content": "x" * 2000}]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert fake_provider.seen() == []


def test_a_provider_on_the_panels_own_network_is_refused_when_connecting(
    app, sdk, catalogue, fake_provider
):
    """With private addresses not allowed (production), the gateway checks the address
    when it connects: a provider that resolves to loopback gets nothing, and the key
    stays home."""
    app.config["PROVIDER_ALLOW_PRIVATE"] = False
    with pytest.raises(openai.APIStatusError) as caught:
        sdk().chat.completions.create(
            model="openrouter", messages=[{"role": "user", "content": "سلام"}]
        )
    assert caught.value.status_code == 502
    assert caught.value.body["code"] == "provider_error"
    assert fake_provider.requests == []
