"""The platform's own calls follow the gateway's plan (docs/CONTRACTS.md §9): a split arm
by end user, and the group's fallbacks after unreachable, timeout, 5xx or 429 (after the
client's own retries), each with its own provider's key; never after another 4xx, never
for an explicit model. Every attempt is metered (route ``fallback`` for the backups)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from tests.ai.fake_provider import Reply
from tests.ai.fixtures import dead_group
from tests.support import PERSONAL_KEY, SHARED_KEY
from webapp.ai import calls, policies
from webapp.ai.errors import ProviderRateLimited, ProviderRequestRejected, ProviderServerError
from webapp.metering import flush_all
from webapp.models import UsageCall
from webapp.operations import routing

BACKUP_KEY = "sk-backup-00112233445566778899"
CHAT = "/chat/completions"
RETRIES = 2  # PROVIDER_MAX_RETRIES's default: a 5xx or 429 is sent three times


@pytest.fixture
def routed(provider, make_provider, make_model, fake_provider):
    gpt = make_model(provider, "gpt-4o", caps=["chat"], active=True, model_id="openai/gpt-4o")
    backup = make_provider(
        "backup", base_url=fake_provider.url, shared_api_enabled=True, shared_api_key=BACKUP_KEY
    )
    mistral = make_model(backup, "mistral", caps=["chat"], model_id="mistral/large")
    routing.set_routing(provider.id, "chat", [mistral.id], [])
    return {"gpt": gpt, "backup": backup, "mistral": mistral}


def sent(fake_provider, path: str = CHAT) -> list[tuple[str, str]]:
    return [(s.authorization, s.json["model"]) for s in fake_provider.seen(path)]


def usage(db, expect: int) -> list[UsageCall]:
    deadline = time.monotonic() + 3
    while True:
        flush_all()
        db.session.rollback()
        rows = list(db.session.scalars(select(UsageCall).order_by(UsageCall.id)))
        if len(rows) >= expect or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)


@pytest.mark.parametrize("failure", ["500", "429", "timeout", "closed port"])
def test_a_failing_live_model_falls_back_with_the_backups_key(
    failure, routed, provider, make_provider, make_model, fake_provider, db
):
    group = "openrouter"
    live_model = "openai/gpt-4o"
    if failure == "closed port":
        group = dead_group(routed["mistral"].id, make_provider, make_model)
        live_model = "dead/model"
    elif failure == "timeout":
        fake_provider.script("POST", CHAT, Reply(delay=2))
    else:
        fake_provider.script("POST", CHAT, *[Reply(int(failure))] * (RETRIES + 1))

    result = calls.chat(group, "سلام", timeout=0.5)

    assert result.route == "fallback" and result.fell_back
    assert (result.provider, result.model) == ("backup", "mistral/large")
    assert result.text == "سلام از mistral/large"
    assert [(f.provider, f.model) for f in result.failed] == [(group, live_model)]
    assert result.failed[0].message  # the Persian reason the playground shows
    tried = {"500": RETRIES + 1, "429": RETRIES + 1, "timeout": 1, "closed port": 0}[failure]
    assert sent(fake_provider) == [(f"Bearer {SHARED_KEY}", live_model)] * tried + [
        (f"Bearer {BACKUP_KEY}", "mistral/large")
    ]
    rows = usage(db, expect=2)
    assert [(r.origin, r.route, r.model, r.outcome == "ok") for r in rows] == [
        ("service", "live", live_model, False),
        ("service", "fallback", "mistral/large", True),
    ]


def test_another_4xx_does_not_fall_back(routed, fake_provider, db):
    fake_provider.script("POST", CHAT, Reply(400, {"error": {"message": "bad request"}}))

    with pytest.raises(ProviderRequestRejected):
        calls.chat("openrouter", "hi")

    assert sent(fake_provider) == [(f"Bearer {SHARED_KEY}", "openai/gpt-4o")]
    rows = usage(db, expect=1)
    assert [(r.route, r.outcome) for r in rows] == [("live", "rejected")]


def test_an_explicit_model_has_no_fallback(routed, fake_provider):
    fake_provider.always("POST", CHAT, Reply(500))

    with pytest.raises(ProviderServerError):
        calls.chat("openrouter", "hi", model_name="gpt-4o")

    assert {model for _, model in sent(fake_provider)} == {"openai/gpt-4o"}


def test_when_every_candidate_fails_the_last_error_is_raised(routed, fake_provider, db):
    fake_provider.script("POST", CHAT, *[Reply(500)] * (RETRIES + 1), *[Reply(429)] * (RETRIES + 1))

    with pytest.raises(ProviderRateLimited):
        calls.generate_content("openrouter", "a poem")

    assert [m for _, m in sent(fake_provider)] == ["openai/gpt-4o"] * 3 + ["mistral/large"] * 3
    rows = usage(db, expect=2)
    assert [(r.route, r.outcome) for r in rows] == [
        ("live", "provider_error"),
        ("fallback", "rate_limited"),
    ]


def test_each_fallback_uses_its_own_providers_key_by_the_admins_priority(
    routed, fake_provider, make_admin, give_personal_key
):
    admin = make_admin("operator")
    give_personal_key(admin, routed["backup"])  # personal for the backup, shared for the live
    fake_provider.script("POST", CHAT, *[Reply(503)] * (RETRIES + 1))

    result = calls.chat("openrouter", "hi", admin=admin)

    assert result.key_source == "personal"
    assert sent(fake_provider)[-1] == (f"Bearer {PERSONAL_KEY}", "mistral/large")
    assert sent(fake_provider)[0] == (f"Bearer {SHARED_KEY}", "openai/gpt-4o")


def test_an_open_circuit_sends_the_call_to_the_fallback_first(routed, fake_provider):
    for _ in range(policies.BREAKER_FAILURES):
        policies.record_failure(routed["gpt"].id)

    result = calls.chat("openrouter", "hi")

    assert result.route == "fallback"
    assert sent(fake_provider) == [(f"Bearer {BACKUP_KEY}", "mistral/large")]


def test_images_fall_back_too(provider, make_provider, make_model, fake_provider):
    make_model(provider, "dall-e", caps=["image"], active=True, model_id="dall-e-3")
    backup = make_provider(
        "backup", base_url=fake_provider.url, shared_api_enabled=True, shared_api_key=BACKUP_KEY
    )
    flux = make_model(backup, "flux", caps=["image"], model_id="flux/pro")
    routing.set_routing(provider.id, "image", [flux.id], [])
    fake_provider.script("POST", "/images/generations", *[Reply(502)] * (RETRIES + 1))

    image = calls.generate_image("openrouter", "a cat")

    assert (image.route, image.model) == ("fallback", "flux/pro")
    assert sent(fake_provider, "/images/generations")[-1] == (f"Bearer {BACKUP_KEY}", "flux/pro")


def test_a_split_keeps_one_end_user_on_one_arm(provider, make_model, fake_provider):
    make_model(provider, "gpt-4o", caps=["chat"], active=True, model_id="openai/gpt-4o")
    arm = make_model(provider, "claude", caps=["chat"], model_id="anthropic/claude")
    routing.set_routing(provider.id, "chat", [], [routing.Arm(arm.id, 50)])
    users = [f"user-{i}" for i in range(40)]

    first = {u: calls.chat("openrouter", "hi", user=u) for u in users}
    again = {u: calls.chat("openrouter", "hi", user=u) for u in users}

    assert {u: r.model for u, r in first.items()} == {u: r.model for u, r in again.items()}
    routes = {r.route for r in first.values()}
    assert routes == {"live", "split"}  # 40 users over a 50 % arm: both sides are used
    for user, result in first.items():
        expected = policies.split_arm(
            [routing.Arm(arm.id, 50)], f"user:{user}", "openrouter", "chat"
        )
        assert (result.route == "split") == (expected == arm.id)


def test_a_job_without_admin_or_user_stays_on_the_live_model(provider, make_model, fake_provider):
    make_model(provider, "gpt-4o", caps=["chat"], active=True, model_id="openai/gpt-4o")
    arm = make_model(provider, "claude", caps=["chat"], model_id="anthropic/claude")
    routing.set_routing(provider.id, "chat", [], [routing.Arm(arm.id, 50)])

    results = [calls.chat("openrouter", "hi") for _ in range(5)]

    assert {(r.route, r.model) for r in results} == {("live", "openai/gpt-4o")}
