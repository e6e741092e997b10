"""Calls made through the gateway, ok and failing, reach the usage API and the overview
with the right counts, tokens and p95 (the whole way: gateway → metering → rollups →
reads), through the loopback provider."""

from __future__ import annotations

import openai
import pytest

from tests.ai.fake_provider import Reply
from tests.html_tree import parse

HI = [{"role": "user", "content": "سلام"}]


def test_gateway_calls_show_in_the_usage_api_and_the_overview(
    sdk, catalogue, fake_provider, usage_rows, api, login_as, provider
):
    client = sdk()
    for _ in range(4):
        client.chat.completions.create(model="openrouter", messages=HI)
    fake_provider.script("POST", "/chat/completions", Reply(500), Reply(500), Reply(500))
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="openrouter", messages=HI)
    client.embeddings.create(model="openrouter", input=["a"])
    rows = usage_rows(expect=6)
    assert len(rows) == 6
    failed = [r for r in rows if r.outcome != "ok"]
    assert len(failed) == 1

    data = api("GET", "/usage/?provider=openrouter&capability=chat").get_json()["data"]
    [point] = data
    assert (point["model"], point["calls"], point["errors"]) == ("openai/gpt-4o", 5, 1)
    chat_rows = [r for r in rows if r.capability == "chat"]
    assert point["prompt_tokens"] == sum(r.prompt_tokens or 0 for r in chat_rows)
    assert point["completion_tokens"] == sum(r.completion_tokens or 0 for r in chat_rows)
    assert point["prompt_tokens"] > 0
    # p95 lies within one histogram bucket (×1.5) of the slowest of the five calls.
    slowest = max(r.latency_ms for r in chat_rows)
    assert point["p95_ms"] is not None and point["p95_ms"] <= max(slowest, 1) * 1.5 + 0.1

    viewer = login_as("viewer")
    card = parse(viewer.get("/").data).find(id=f"overview-group-{provider.id}-chat")
    assert card.find(class_="overview-calls").text.strip() == "۵"
    assert card.find(class_="overview-errors").text.strip() == "۲۰.۰٪"
    assert "is-failing" in card.get("class")
    embedding = parse(viewer.get("/").data).find(id=f"overview-group-{provider.id}-embedding")
    assert embedding.find(class_="overview-calls").text.strip() == "۱"
