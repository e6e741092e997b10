"""DESIGN.md §2 end to end: which model and which key reach a real provider on loopback."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.ai.fake_provider import Reply
from tests.support import PERSONAL_KEY, SHARED_KEY
from webapp.ai import calls, chat_service, content_generation_service, image_generation_service
from webapp.ai.errors import (
    MalformedResponse,
    NoActiveModel,
    ProviderAuthError,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTimeout,
    ProviderUnavailable,
    ProviderUnreachable,
)
from webapp.errors import NoApiAccess
from webapp.models import AuditEvent
from webapp.operations import activation, catalog

PROMPT = "یک راز: کلمه‌ی عبور من banana-42 است"


def carries_httpx(error: BaseException) -> bool:
    """Whether an httpx exception (its request holds the headers) rides along in the chain."""
    seen = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    while seen is not None:
        if type(seen).__module__.startswith("httpx"):
            return True
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
    return False


def ai_events(db) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "ai.call").order_by(AuditEvent.id)
        )
    )


@pytest.fixture
def gpt(make_model, provider):
    return make_model(provider, "gpt-4o", caps=["chat"], model_id="openai/gpt-4o", active=True)


# --- key priority (the seed's scenario 3): header and model on the wire -----------------


def test_personal_key_is_sent(make_admin, provider, gpt, give_personal_key, fake_provider):
    admin = make_admin("operator")
    give_personal_key(admin, provider)

    result = calls.chat("openrouter", "سلام", admin=admin)

    (seen,) = fake_provider.seen("/chat/completions")
    assert seen.authorization == f"Bearer {PERSONAL_KEY}"
    assert seen.json["model"] == "openai/gpt-4o"
    assert seen.json["messages"] == [{"role": "user", "content": "سلام"}]
    assert result.text == "سلام از openai/gpt-4o"
    assert result.key_source == "personal"
    assert result.model == "openai/gpt-4o"
    assert result.latency_ms >= 0


def test_personal_key_but_shared_chosen_sends_shared(
    make_admin, provider, gpt, give_personal_key, fake_provider
):
    admin = make_admin("operator")
    give_personal_key(admin, provider, use_shared_api=True)

    result = calls.chat("openrouter", "hi", admin=admin)

    assert fake_provider.seen("/chat/completions")[0].authorization == f"Bearer {SHARED_KEY}"
    assert result.key_source == "shared"


def test_no_personal_key_shared_enabled_and_allowed_sends_shared(
    make_admin, provider, gpt, fake_provider
):
    result = calls.chat("openrouter", "hi", admin=make_admin("operator"))

    assert fake_provider.seen("/chat/completions")[0].authorization == f"Bearer {SHARED_KEY}"
    assert result.key_source == "shared"


def test_shared_disabled_means_no_access_and_no_request(
    make_admin, make_provider, make_model, fake_provider
):
    p = make_provider(
        "closed", base_url=fake_provider.url, shared_api_enabled=False, shared_api_key=SHARED_KEY
    )
    make_model(p, caps=["chat"], active=True)

    with pytest.raises(NoApiAccess) as caught:
        calls.chat("closed", "hi", admin=make_admin("operator"))

    assert "API" in str(caught.value)
    assert fake_provider.requests == []


def test_viewer_may_not_use_the_shared_key(make_admin, provider, gpt, fake_provider):
    with pytest.raises(NoApiAccess):
        calls.chat("openrouter", "hi", admin=make_admin("viewer"))
    assert fake_provider.requests == []


def test_viewer_with_a_personal_key_uses_it(
    make_admin, provider, gpt, give_personal_key, fake_provider
):
    viewer = make_admin("viewer")
    give_personal_key(viewer, provider)

    assert calls.chat("openrouter", "hi", admin=viewer).key_source == "personal"
    assert fake_provider.seen()[0].authorization == f"Bearer {PERSONAL_KEY}"


def test_background_job_uses_only_the_shared_key(provider, gpt, fake_provider):
    result = calls.chat("openrouter", "hi")  # no admin

    assert fake_provider.seen()[0].authorization == f"Bearer {SHARED_KEY}"
    assert result.key_source == "shared"


def test_background_job_without_shared_key_has_no_access(make_provider, make_model, fake_provider):
    p = make_provider("solo", base_url=fake_provider.url)
    make_model(p, caps=["chat"], active=True)

    with pytest.raises(NoApiAccess):
        calls.chat("solo", "hi")
    assert fake_provider.requests == []


# --- which model ------------------------------------------------------------------------


def test_explicit_model_name_overrides_the_active_model(provider, gpt, make_model, fake_provider):
    make_model(provider, "claude", caps=["chat"], model_id="anthropic/claude-3.5-sonnet")

    by_name = calls.chat("openrouter", "hi", model_name="claude")
    by_unregistered_id = calls.chat("openrouter", "hi", model_name="mistral/large")

    sent = [r.json["model"] for r in fake_provider.seen("/chat/completions")]
    assert sent == ["anthropic/claude-3.5-sonnet", "mistral/large"]
    assert by_name.model_source == "explicit"
    assert by_unregistered_id.model == "mistral/large"


def test_switching_the_active_model_takes_effect_on_the_next_call(
    provider, gpt, make_model, fake_provider
):
    claude = make_model(provider, "claude", caps=["chat"], model_id="anthropic/claude-3.5-sonnet")
    calls.chat("openrouter", "hi")  # warms the active-model cache

    activation.activate(claude, actor="test")
    calls.chat("openrouter", "hi")

    sent = [r.json["model"] for r in fake_provider.seen("/chat/completions")]
    assert sent == ["openai/gpt-4o", "anthropic/claude-3.5-sonnet"]


def test_no_active_model_sends_nothing(provider, make_model, fake_provider):
    make_model(provider, caps=["chat"])  # registered, not active

    with pytest.raises(NoActiveModel) as caught:
        calls.chat("openrouter", "hi")

    assert str(caught.value) == "هیچ مدل فعالی برای این Provider+Capability وجود ندارد"
    assert fake_provider.requests == []


def test_image_uses_the_active_image_model_not_the_chat_one(
    provider, gpt, make_model, fake_provider
):
    make_model(provider, "dall-e-3", caps=["image"], model_id="dall-e-3", active=True)

    image = image_generation_service.generate_image_only("openrouter", "a cat")

    (seen,) = fake_provider.seen("/images/generations")
    assert seen.json["model"] == "dall-e-3"
    assert seen.json["prompt"] == "a cat"
    assert image.b64_json and image.url is None
    assert image.src.startswith("data:image/png;base64,")
    assert image.key_source == "shared"


def test_image_url_answer(provider, make_model, fake_provider):
    make_model(provider, caps=["image"], active=True)
    fake_provider.script(
        "POST", "/images/generations", Reply(body={"data": [{"url": "https://img.example/1.png"}]})
    )

    image = calls.generate_image("openrouter", "a cat")

    assert image.url == image.src == "https://img.example/1.png"


def test_disabled_provider_sends_nothing(make_provider, make_model, fake_provider):
    p = make_provider(
        "off",
        base_url=fake_provider.url,
        shared_api_enabled=True,
        shared_api_key=SHARED_KEY,
        is_enabled=False,
    )
    make_model(p, caps=["chat"], active=True)

    with pytest.raises(ProviderUnavailable):
        calls.chat("off", "hi", model_name="x")
    assert fake_provider.requests == []


# --- the seed's wrappers ----------------------------------------------------------------


def test_seed_get_provider_wrappers(make_admin, provider, gpt, make_model, fake_provider):
    make_model(provider, "img", caps=["image"], model_id="dall-e-3", active=True)
    admin = make_admin("operator")

    chat_client = chat_service.get_provider("openrouter", admin)
    content_client = content_generation_service.get_provider("openrouter", admin)
    image_client = image_generation_service.get_provider("openrouter", admin)
    explicit = chat_service.get_provider("openrouter", admin, model_name="mistral/large")

    assert (chat_client.model, content_client.model, image_client.model) == (
        "openai/gpt-4o",
        "openai/gpt-4o",
        "dall-e-3",
    )
    assert explicit.model == "mistral/large"
    assert chat_client.key_source == "shared"
    assert SHARED_KEY not in repr(chat_client)
    assert fake_provider.requests == []  # building a client sends nothing

    content = content_generation_service.generate_content(
        "openrouter", "write a haiku", admin=admin, system="be brief"
    )
    assert content.text == "سلام از openai/gpt-4o"
    roles = [m["role"] for m in fake_provider.seen("/chat/completions")[0].json["messages"]]
    assert roles == ["system", "user"]


# --- failures: each its own Persian message ---------------------------------------------


def test_401_is_a_refused_key(provider, gpt, fake_provider):
    fake_provider.always("POST", "/chat/completions", Reply(401))

    with pytest.raises(ProviderAuthError) as caught:
        calls.chat("openrouter", "hi")

    assert str(caught.value) == (
        "ارائه‌دهنده کلید API را نپذیرفت (کلید نادرست، منقضی یا غیرمجاز است)."
    )
    assert caught.value.status_code == 401
    assert len(fake_provider.requests) == 1  # never retried


def test_429_then_success_is_retried(provider, gpt, fake_provider):
    fake_provider.script(
        "POST", "/chat/completions", Reply(429, headers={"Retry-After": "0"}), Reply(200)
    )

    result = calls.chat("openrouter", "hi")

    assert result.text == "سلام از openai/gpt-4o"
    assert len(fake_provider.requests) == 2


def test_429_every_time_is_rate_limited(provider, gpt, fake_provider):
    fake_provider.always("POST", "/chat/completions", Reply(429))

    with pytest.raises(ProviderRateLimited) as caught:
        calls.chat("openrouter", "hi")

    assert "محدود" in str(caught.value)
    assert len(fake_provider.requests) == 3  # one try and two retries


def test_long_retry_after_is_not_waited_for(provider, gpt, fake_provider):
    fake_provider.always("POST", "/chat/completions", Reply(429, headers={"Retry-After": "120"}))

    with pytest.raises(ProviderRateLimited):
        calls.chat("openrouter", "hi")

    assert len(fake_provider.requests) == 1


def test_500_every_time_is_a_provider_error(provider, gpt, fake_provider):
    fake_provider.always("POST", "/chat/completions", Reply(500))

    with pytest.raises(ProviderServerError) as caught:
        calls.chat("openrouter", "hi")

    assert str(caught.value) == "ارائه‌دهنده با خطای داخلی روبه‌رو شد و نتوانست پاسخ دهد."
    assert len(fake_provider.requests) == 3


def test_slow_provider_times_out(provider, gpt, fake_provider):
    fake_provider.always("POST", "/chat/completions", Reply(delay=1.0))

    client = chat_service.get_provider("openrouter")
    with pytest.raises(ProviderTimeout) as caught:
        client.chat("hi", timeout=0.1)

    assert str(caught.value) == "ارائه‌دهنده در زمان مقرر پاسخ نداد."
    assert not carries_httpx(caught.value)
    assert len(fake_provider.requests) == 1  # a timeout is not retried


def test_timeout_from_config(app_factory, fake_provider):
    from tests.support import ModelFactory, ProviderFactory

    app = app_factory(PROVIDER_TIMEOUT=0.1)
    with app.app_context():
        ProviderFactory()(
            "slow", base_url=fake_provider.url, shared_api_enabled=True, shared_api_key=SHARED_KEY
        )
        ModelFactory(ProviderFactory())(catalog.get_provider("slow"), caps=["chat"], active=True)
        fake_provider.always("POST", "/chat/completions", Reply(delay=1.0))
        with pytest.raises(ProviderTimeout):
            calls.chat("slow", "hi")


def test_closed_port_is_unreachable(make_provider, make_model, dead_url):
    p = make_provider("dead", base_url=dead_url, shared_api_enabled=True, shared_api_key=SHARED_KEY)
    make_model(p, caps=["chat"], active=True)

    with pytest.raises(ProviderUnreachable) as caught:
        calls.chat("dead", "hi")

    assert str(caught.value) == (
        "دسترسی به ارائه‌دهنده ممکن نیست (نشانی نادرست است یا سرور در دسترس نیست)."
    )
    assert not carries_httpx(caught.value)


def test_malformed_answer(provider, gpt, fake_provider):
    fake_provider.script("POST", "/chat/completions", Reply(raw=b"<html>oops"))
    fake_provider.script("POST", "/chat/completions", Reply(body={"choices": []}))

    for _ in range(2):
        with pytest.raises(MalformedResponse) as caught:
            calls.chat("openrouter", "hi")
        assert str(caught.value) == "پاسخ ارائه‌دهنده قابل‌فهم نبود."


def test_every_failure_has_its_own_message(provider, gpt, fake_provider, dead_url):
    texts = set()
    for status in (401, 429, 500):
        fake_provider.always("POST", "/chat/completions", Reply(status))
        with pytest.raises(Exception) as caught:
            calls.chat("openrouter", "hi")
        texts.add(str(caught.value))
    fake_provider.always("POST", "/chat/completions", Reply(delay=1.0))
    with pytest.raises(ProviderTimeout) as caught:
        chat_service.get_provider("openrouter").chat("hi", timeout=0.05)
    texts.add(str(caught.value))
    # Another origin: the shared key goes with the move only when given again.
    catalog.update_provider(
        provider, {"base_url": dead_url, "shared_api_key": SHARED_KEY}, actor="test"
    )
    with pytest.raises(ProviderUnreachable) as caught:
        calls.chat("openrouter", "hi")
    texts.add(str(caught.value))
    assert len(texts) == 5


# --- the key never leaks; every call is recorded ----------------------------------------


def test_key_is_in_no_error_and_no_audit_event(db, provider, gpt, fake_provider, dead_url):
    # A provider that echoes the key back in its error text.
    fake_provider.always(
        "POST",
        "/chat/completions",
        Reply(401, body={"error": {"message": f"Incorrect API key provided: {SHARED_KEY}"}}),
    )
    with pytest.raises(ProviderAuthError) as caught:
        calls.chat("openrouter", PROMPT)
    error = caught.value
    for text in (str(error), repr(error), error.detail, repr(error.args)):
        assert SHARED_KEY not in text
    assert not carries_httpx(error)

    events = ai_events(db)
    assert events
    for event in events:
        dumped = json.dumps([event.before, event.after, event.target_repr], ensure_ascii=False)
        assert SHARED_KEY not in dumped
        assert "banana-42" not in dumped


def test_each_call_is_recorded(db, make_admin, provider, gpt, fake_provider):
    admin = make_admin("operator")
    calls.chat("openrouter", PROMPT, admin=admin)
    fake_provider.always("POST", "/chat/completions", Reply(500))
    with pytest.raises(ProviderServerError):
        calls.chat("openrouter", PROMPT, admin=admin)
    with pytest.raises(NoApiAccess):
        calls.chat("openrouter", PROMPT, admin=make_admin("viewer"))

    ok, failed, refused = ai_events(db)
    assert ok.actor_name == admin.username
    assert ok.target_type == "provider" and ok.target_id == provider.id
    assert ok.after["outcome"] == "ok"
    assert ok.after["model"] == "openai/gpt-4o"
    assert ok.after["key_source"] == "shared"
    assert ok.after["operation"] == "chat"
    assert isinstance(ok.after["latency_ms"], int)
    assert failed.after["outcome"] == "error"
    assert failed.after["error_kind"] == "provider_error"
    assert failed.after["http_status"] == 500
    assert failed.after["attempts"] == 3
    assert refused.after["error_kind"] == "no_api_access"
    assert refused.after["key_source"] is None


def test_background_call_is_recorded_as_system(db, provider, gpt, fake_provider):
    calls.chat("openrouter", "hi")
    (event,) = ai_events(db)
    assert event.actor_name == "system" and event.actor_id is None


def test_bad_input_is_not_a_call(db, provider, gpt, fake_provider):
    from webapp.errors import ValidationError

    with pytest.raises(ValidationError):
        calls.chat("openrouter", "   ")
    assert fake_provider.requests == []
    assert ai_events(db) == []


def test_key_is_in_no_log_line(caplog, make_admin, provider, gpt, give_personal_key, fake_provider):
    import logging

    caplog.set_level(logging.DEBUG)
    admin = make_admin("operator")
    give_personal_key(admin, provider)
    calls.chat("openrouter", PROMPT, admin=admin)
    fake_provider.script("POST", "/chat/completions", Reply(503), Reply(200))
    calls.chat("openrouter", PROMPT)
    fake_provider.always(
        "POST", "/chat/completions", Reply(401, body={"error": {"message": PERSONAL_KEY}})
    )
    with pytest.raises(ProviderAuthError):
        calls.chat("openrouter", PROMPT, admin=admin)

    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert SHARED_KEY not in logged and PERSONAL_KEY not in logged
    assert "banana-42" not in logged
