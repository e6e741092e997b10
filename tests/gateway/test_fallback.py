"""Fallback through the gateway: the next model after unreachable, timeout, 5xx or 429,
each attempt metered and sent with its own provider's key; never after another 4xx."""

from __future__ import annotations

import openai
import pytest

from tests.ai.fake_provider import Reply
from tests.ai.fixtures import dead_group
from tests.support import SHARED_KEY
from webapp.ai import policies
from webapp.operations import routing

HI = [{"role": "user", "content": "سلام"}]
BACKUP_KEY = "sk-backup-00112233445566778899"
CHAT = "/chat/completions"


@pytest.fixture
def routed(catalogue, provider, make_provider, make_model, fake_provider):
    backup = make_provider(
        "backup", base_url=fake_provider.url, shared_api_enabled=True, shared_api_key=BACKUP_KEY
    )
    mistral = make_model(backup, "mistral", caps=["chat"], model_id="mistral/large")
    routing.set_routing(provider.id, "chat", [mistral.id], [])
    return {"provider": provider, "backup": backup, "mistral": mistral} | catalogue


def sent(fake_provider) -> list[tuple[str, str]]:
    return [(s.authorization, s.json["model"]) for s in fake_provider.seen(CHAT)]


@pytest.mark.parametrize("failure", ["500", "429", "timeout", "closed port"])
def test_a_failing_live_model_falls_back(
    failure, sdk, routed, fake_provider, usage_rows, make_provider, make_model
):
    group = "openrouter"
    if failure == "closed port":
        group = dead_group(routed["mistral"].id, make_provider, make_model)
    else:
        reply = {"500": Reply(500), "429": Reply(429), "timeout": Reply(delay=4)}[failure]
        fake_provider.script("POST", CHAT, reply)

    raw = sdk().chat.completions.with_raw_response.create(model=group, messages=HI)

    assert raw.headers["X-Panel-Route"] == "fallback"
    assert raw.headers["X-Panel-Provider"] == "backup"
    assert raw.headers["X-Panel-Model"] == "mistral/large"
    assert raw.parse().model == "mistral/large"
    first = [] if failure == "closed port" else [(f"Bearer {SHARED_KEY}", "openai/gpt-4o")]
    assert sent(fake_provider) == [*first, (f"Bearer {BACKUP_KEY}", "mistral/large")]
    rows = usage_rows(expect=2)
    live_model = "dead/model" if failure == "closed port" else "openai/gpt-4o"
    assert [(r.route, r.model, r.outcome == "ok") for r in rows] == [
        ("live", live_model, False),
        ("fallback", "mistral/large", True),
    ]


def test_another_4xx_does_not_fall_back(sdk, routed, fake_provider, usage_rows):
    fake_provider.script("POST", CHAT, Reply(400, {"error": {"message": "bad request"}}))
    with pytest.raises(openai.BadRequestError):
        sdk().chat.completions.create(model="openrouter", messages=HI)
    assert sent(fake_provider) == [(f"Bearer {SHARED_KEY}", "openai/gpt-4o")]
    assert len(usage_rows(expect=1)) == 1


def test_an_explicit_model_has_no_fallback(sdk, routed, fake_provider):
    fake_provider.script("POST", CHAT, Reply(500))
    with pytest.raises(openai.InternalServerError) as failed:
        sdk().chat.completions.create(model="openrouter/gpt-4o", messages=HI)
    assert failed.value.status_code == 502
    assert sent(fake_provider) == [(f"Bearer {SHARED_KEY}", "openai/gpt-4o")]


def test_when_every_candidate_fails_the_last_error_is_answered(sdk, routed, fake_provider):
    fake_provider.script("POST", CHAT, Reply(500), Reply(429))
    with pytest.raises(openai.RateLimitError):
        sdk().chat.completions.create(model="openrouter", messages=HI)
    assert [model for _, model in sent(fake_provider)] == ["openai/gpt-4o", "mistral/large"]


def test_a_stream_falls_back_before_its_first_chunk(sdk, routed, fake_provider):
    fake_provider.script("POST", CHAT, Reply(503))
    raw = sdk().chat.completions.with_raw_response.create(
        model="openrouter", messages=HI, stream=True
    )
    assert raw.headers["X-Panel-Route"] == "fallback"
    chunks = list(raw.parse())
    assert chunks and all(c.model == "mistral/large" for c in chunks if c.model)


def test_an_open_circuit_sends_the_call_to_the_fallback_first(sdk, routed, fake_provider):
    for _ in range(policies.BREAKER_FAILURES):
        policies.record_failure(routed["gpt"].id)
    assert policies.is_open(routed["gpt"].id)

    raw = sdk().chat.completions.with_raw_response.create(model="openrouter", messages=HI)

    assert raw.headers["X-Panel-Route"] == "fallback"
    assert sent(fake_provider) == [(f"Bearer {BACKUP_KEY}", "mistral/large")]


def test_failures_open_the_circuit_only_within_the_window(app):
    model = 987654
    for i in range(policies.BREAKER_FAILURES - 1):
        assert not policies.record_failure(model, now=1000.0 + i)
    # the first failures are too old by now: no circuit
    assert not policies.record_failure(model, now=1000.0 + policies.BREAKER_WINDOW_S + 1)
    assert not policies.is_open(model)
    for i in range(policies.BREAKER_FAILURES - 2):
        policies.record_failure(model, now=1040.0 + i)
    assert policies.record_failure(model, now=1045.0)
    assert policies.is_open(model)
