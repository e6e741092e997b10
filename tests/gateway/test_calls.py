"""The gateway's happy paths, through the official ``openai`` SDK against a live server:
what the program gets, what the provider saw, and the names of DESIGN.md §8."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.ai.fake_provider import Reply
from tests.support import SHARED_KEY

HI = [{"role": "user", "content": "سلام"}]


def chat(base_url: str, token: str, **fields) -> httpx.Response:
    """A chat call for the openrouter group, with ``token``, straight over HTTP."""
    body = {"model": "openrouter", "messages": HI} | fields
    return httpx.post(
        f"{base_url}/chat/completions", json=body, headers={"Authorization": f"Bearer {token}"}
    )


def test_chat_uses_the_live_model(sdk, catalogue, fake_provider):
    answer = sdk().chat.completions.with_raw_response.create(
        model="openrouter", messages=HI, temperature=0.2, user="end-user-7"
    )

    completion = answer.parse()
    assert completion.choices[0].message.content == "سلام از openai/gpt-4o"
    assert completion.usage.total_tokens == 6
    assert answer.headers["X-Panel-Provider"] == "openrouter"
    assert answer.headers["X-Panel-Model"] == "openai/gpt-4o"
    assert answer.headers["X-Panel-Route"] == "live"
    (seen,) = fake_provider.seen("/chat/completions")
    # The body went upstream unchanged but for the model.
    assert seen.json == {
        "model": "openai/gpt-4o",
        "messages": HI,
        "temperature": 0.2,
        "user": "end-user-7",
    }
    assert seen.authorization == f"Bearer {SHARED_KEY}"


def test_the_answer_comes_back_unchanged(base_url, role_token, catalogue, fake_provider):
    odd = {"id": "x-1", "object": "chat.completion", "choices": [], "extra": {"kept": [1, "۲"]}}
    fake_provider.script("POST", "/chat/completions", Reply(200, odd))
    _, token = role_token()

    response = chat(base_url, token)

    assert response.status_code == 200
    assert response.json() == odd
    assert response.headers["content-type"].startswith("application/json")


def test_a_providers_cookie_never_rides_along_on_the_next_call(
    base_url, role_token, catalogue, fake_provider
):
    """One HTTP client serves every admin's calls: a cookie a provider set on one call
    (a sticky session, a bot check) must not be sent with another admin's call."""
    cookie = {"Set-Cookie": "sticky=admin-a; Path=/"}
    fake_provider.script("POST", "/chat/completions", Reply(headers=cookie), Reply())
    for role in ("operator", "admin"):
        _, token = role_token(role)
        response = chat(base_url, token)
        assert response.status_code == 200
        assert "set-cookie" not in response.headers
    first, second = fake_provider.seen("/chat/completions")
    assert "Cookie" not in first.headers
    assert "Cookie" not in second.headers


def test_a_streamed_chat_arrives_chunk_by_chunk(sdk, catalogue, fake_provider):
    pieces = ["یک", " دو", " سه", " چهار"]
    fake_provider.script("POST", "/chat/completions", Reply(chunks=pieces, chunk_delay=0.3))

    stream = sdk().chat.completions.create(model="openrouter", messages=HI, stream=True)
    arrivals, texts = [], []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
            texts.append(chunk.choices[0].delta.content)
    seen = fake_provider.seen("/chat/completions")[0]

    assert texts == pieces
    # Relayed as they came: the first piece was read ~0.9 s before the provider finished.
    assert arrivals[-1] - arrivals[0] > 0.6
    assert seen.json["stream"] is True
    assert seen.json["stream_options"] == {"include_usage": True}  # asked for the meter
    assert not seen.cancelled


def test_a_stream_reaches_the_client_before_the_provider_finishes(
    base_url, role_token, catalogue, fake_provider
):
    fake_provider.script("POST", "/chat/completions", Reply(chunks=["a", "b"], chunk_delay=1.0))
    _, token = role_token()
    body = {"model": "openrouter", "messages": HI, "stream": True}

    with httpx.stream(
        "POST",
        f"{base_url}/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["X-Accel-Buffering"] == "no"
        assert response.headers["X-Panel-Model"] == "openai/gpt-4o"
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith("data:"))
        seen = fake_provider.seen("/chat/completions")[0]
        assert seen.is_open  # the provider is still answering: nothing was buffered
        rest = [line for line in lines if line.startswith("data:")]

    assert '"role": "assistant"' in first
    assert rest[-1] == "data: [DONE]"
    # The client did not ask for usage: the usage-only chunk we asked for is not shown.
    assert not any('"usage"' in line for line in rest)


def test_a_client_that_asks_for_usage_gets_it(sdk, catalogue):
    stream = sdk().chat.completions.create(
        model="openrouter", messages=HI, stream=True, stream_options={"include_usage": True}
    )
    usage = [chunk.usage for chunk in stream if chunk.usage]
    assert usage and usage[-1].prompt_tokens == 5


def test_embeddings(sdk, catalogue, fake_provider):
    answer = sdk().embeddings.with_raw_response.create(model="openrouter", input=["a", "b"])

    result = answer.parse()
    assert [e.embedding for e in result.data] == [[0.1, 0.2, 0.3]] * 2
    assert answer.headers["X-Panel-Model"] == "openai/text-embedding-3-small"
    (seen,) = fake_provider.seen("/embeddings")
    assert seen.json["model"] == "openai/text-embedding-3-small"
    assert seen.json["input"] == ["a", "b"]


def test_an_image(sdk, catalogue, fake_provider):
    result = sdk().images.generate(model="openrouter:image", prompt="یک گربه", size="1024x1024")

    assert result.data[0].b64_json
    (seen,) = fake_provider.seen("/images/generations")
    assert seen.json == {"model": "openai/dall-e-3", "prompt": "یک گربه", "size": "1024x1024"}


@pytest.mark.parametrize(
    ("name", "model", "route"),
    [
        ("openrouter", "openai/gpt-4o", "live"),
        ("openrouter:chat", "openai/gpt-4o", "live"),
        ("openrouter:code", "openai/gpt-4o", "live"),
        ("openrouter/anthropic/claude-3.5-sonnet", "anthropic/claude-3.5-sonnet", "explicit"),
        ("openrouter/claude-3.5-sonnet", "anthropic/claude-3.5-sonnet", "explicit"),  # by name
        ("openrouter/openai/gpt-4o", "openai/gpt-4o", "explicit"),
    ],
)
def test_model_names(sdk, catalogue, fake_provider, name, model, route):
    answer = sdk().chat.completions.with_raw_response.create(model=name, messages=HI)

    assert answer.headers["X-Panel-Model"] == model
    assert answer.headers["X-Panel-Route"] == route
    assert fake_provider.seen("/chat/completions")[0].json["model"] == model


def test_vision_by_name(sdk, provider, make_model, fake_provider):
    make_model(provider, "vision-1", caps=["vision"], active=True, model_id="v/vision-1")
    answer = sdk().chat.completions.with_raw_response.create(model="openrouter:vision", messages=HI)
    assert answer.headers["X-Panel-Model"] == "v/vision-1"


def test_a_switch_takes_effect_on_the_next_call(sdk, base_url, role_token, catalogue):
    client = sdk()
    assert client.chat.completions.create(model="openrouter", messages=HI).model == "openai/gpt-4o"
    _, admin_token = role_token("superadmin")

    switched = httpx.patch(
        f"{base_url.removesuffix('/v1')}/api/v1/ai-models/{catalogue['claude'].id}/",
        json={"is_active": True},
        headers={"Authorization": f"Bearer {admin_token}"},
    )

    assert switched.status_code == 200, switched.text
    answer = client.chat.completions.create(model="openrouter", messages=HI)
    assert answer.model == "anthropic/claude-3.5-sonnet"


def test_the_model_list(sdk, catalogue, make_provider, make_model, fake_provider):
    off = make_provider("sleeping", base_url=fake_provider.url, is_enabled=False)
    make_model(off, "m", caps=["chat"], active=True)

    listed = {m.id: m for m in sdk().models.list().data}

    assert set(listed) == {
        "openrouter",
        "openrouter:chat",
        "openrouter:code",
        "openrouter:embedding",
        "openrouter:image",
        "openrouter/openai/gpt-4o",
        "openrouter/anthropic/claude-3.5-sonnet",
        "openrouter/openai/text-embedding-3-small",
        "openrouter/openai/dall-e-3",
    }
    assert listed["openrouter"].owned_by == "openrouter"
    assert listed["openrouter"].model == "openai/gpt-4o"
    assert listed["openrouter"].endpoints == {
        "chat/completions": "openai/gpt-4o",
        "embeddings": "openai/text-embedding-3-small",
        "images/generations": "openai/dall-e-3",
    }
    assert listed["openrouter:code"].model == "openai/gpt-4o"
    claude = listed["openrouter/anthropic/claude-3.5-sonnet"]
    assert (claude.route, claude.is_active, claude.capabilities) == ("explicit", False, ["chat"])
    assert fake_provider.seen() == []  # listing asks no provider


def test_no_csrf_and_no_cookie_needed(live_server, base_url, role_token, catalogue):
    """A POST with a token and no session works; a session without a token does not."""
    _, token = role_token()
    ok = chat(base_url, token)
    assert ok.status_code == 200
    assert "set-cookie" not in ok.headers


def test_no_shared_cache_may_keep_an_answer_to_credentials(base_url, role_token, catalogue):
    """An answer is for the token that asked (a valid one or not): ``no-store``."""
    _, token = role_token()
    for sent in (token, "not-a-token"):
        response = httpx.get(f"{base_url}/models", headers={"Authorization": f"Bearer {sent}"})
        assert response.headers["cache-control"] == "no-store"
    assert chat(base_url, token).headers["cache-control"] == "no-store"


def test_token_scheme_is_accepted(base_url, role_token, catalogue):
    _, token = role_token()
    response = httpx.get(f"{base_url}/models", headers={"Authorization": f"Token {token}"})
    assert response.status_code == 200
    assert response.json()["object"] == "list"


def test_a_stream_request_answered_with_one_json_body_is_passed_as_is(
    base_url, role_token, catalogue, fake_provider
):
    plain = {"id": "x", "object": "chat.completion", "choices": []}
    fake_provider.script("POST", "/chat/completions", Reply(200, plain))
    _, token = role_token()
    response = chat(base_url, token, stream=True)
    assert response.status_code == 200
    assert response.json() == plain
