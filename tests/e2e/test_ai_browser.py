"""The playground and "test connection" in a real browser, against the loopback provider.

The demo catalogue (``seed_demo``) is loaded and its providers' base URLs are pointed at
the fake OpenAI-compatible server of ``tests/ai/fake_provider.py`` through
``catalog.update_provider``. The pages are driven by Chromium; what the fake provider
received (model, Authorization header, number of requests) is checked on its side.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.ai.fake_provider import TINY_PNG, Reply, closed_port
from webapp.models import AuditEvent, Provider
from webapp.operations import activation, admins, catalog
from webapp.operations.demo import seed_demo

pytestmark = pytest.mark.e2e

SHARED_KEY = "sk-or-v1-demo-shared-7f3a"  # the demo OpenRouter's shared key
PERSONAL_KEY = "sk-personal-e2e-0123456789abcd"

# The Persian texts the pages must show.
SHARED_LABEL = "کلید مشترک سازمان"
PERSONAL_LABEL = "کلید شخصی شما"
NO_ACTIVE_MODEL = "هیچ مدل فعالی برای این Provider+Capability وجود ندارد"
NO_SHARED_FOR_YOU = (
    "دسترسی به API وجود ندارد: کلید شخصی ندارید و اجازهٔ استفاده از کلید مشترک را هم ندارید."
)
KEY_REFUSED = "ارائه‌دهنده کلید API را نپذیرفت (کلید نادرست، منقضی یا غیرمجاز است)."
UNREACHABLE = "دسترسی به ارائه‌دهنده ممکن نیست (نشانی نادرست است یا سرور در دسترس نیست)."
CONNECTION_OK = "اتصال برقرار است."


@pytest.fixture
def fake(fake_provider):
    return fake_provider


@pytest.fixture
def demo(app, fake):
    """The demo catalogue, OpenRouter and OpenAI answering from the loopback provider."""
    seed_demo()
    providers = {}
    for slug in ("openrouter", "openai"):
        provider = catalog.get_provider(slug)
        data = {"base_url": fake.url}
        if provider.has_shared_api_key:  # another origin: the key moves only when given again
            data["shared_api_key"] = SHARED_KEY
        providers[slug] = catalog.update_provider(provider, data, actor="test")
    assert providers["openrouter"].base_url == fake.url
    return providers


def persian_int(text: str) -> int:
    return int(text.translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789")))


def fa_digits(number: int) -> str:
    return str(number).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))


def open_playground(page, live_server, provider: Provider, capability: str = "chat") -> None:
    """Open the playground and choose provider and capability the way a user does."""
    page.goto(live_server("/playground"))
    plan_provider = page.locator("#playground-plan dd").first
    if page.input_value("#playground-provider") != provider.slug:
        page.select_option("#playground-provider", provider.slug)
    # One plan swap at a time: wait for this one before asking for the next.
    expect(plan_provider).to_contain_text(provider.name)
    if capability != "chat":
        page.check(f"#playground-cap-{capability}")


def expect_plan(page, model_texts: tuple[str, str], key_source: str, key_texts: tuple[str, str]):
    """The plan shown before sending: the model (its name and id), the key's source and
    what names it (its label and hint)."""
    plan = page.locator("#playground-plan")
    for text in model_texts:
        expect(plan.locator("[data-plan-model]")).to_contain_text(text)
    key = plan.locator("[data-plan-key]")
    expect(key).to_have_attribute("data-plan-key", key_source)
    for text in key_texts:
        expect(key).to_contain_text(text)


def send(page, prompt: str) -> None:
    page.evaluate("window.__noReload = 'still here'")
    page.fill("#playground-prompt", prompt)
    page.click("#playground-send")


def assert_no_reload(page, live_server) -> None:
    assert page.evaluate("window.__noReload") == "still here", "the page reloaded"
    assert page.url == live_server("/playground")


def ai_calls(fresh_db) -> list[dict]:
    events = fresh_db().scalars(
        select(AuditEvent).where(AuditEvent.action == "ai.call").order_by(AuditEvent.id)
    )
    return [e.after for e in events]


# --- the playground ---------------------------------------------------------------------


def test_chat_answer_in_place_through_active_model_and_shared_key(
    page, live_server, sign_in, demo, fake, fresh_db
):
    sign_in("operator")
    open_playground(page, live_server, demo["openrouter"])

    expect_plan(page, ("GPT-4o", "openai/gpt-4o"), "shared", (SHARED_LABEL, "…7f3a"))
    assert fake.requests == [], "showing the plan must not call the provider"

    prompt = "سلام، حالت چطور است؟"
    send(page, prompt)

    answer = page.locator("#playground-result [data-playground-answer]")
    expect(answer.locator(".playground-text")).to_have_text("سلام از openai/gpt-4o")
    footer = answer.locator("[role=status]")
    expect(footer).to_contain_text("openai/gpt-4o")
    expect(footer).to_contain_text(SHARED_LABEL)
    expect(footer).to_contain_text(re.compile(r"[۰-۹]+ میلی‌ثانیه"))
    expect(page.locator("#playground-result [data-playground-error]")).to_have_count(0)
    expect(page.locator("#playground-busy")).to_be_hidden()
    assert_no_reload(page, live_server)
    expect(page.locator("#playground-prompt")).to_have_value(prompt)  # the form was kept

    seen = fake.requests
    assert [(r.method, r.path) for r in seen] == [("POST", "/chat/completions")]
    assert seen[0].json["model"] == "openai/gpt-4o"
    assert seen[0].json["messages"] == [{"role": "user", "content": prompt}]
    assert seen[0].authorization == f"Bearer {SHARED_KEY}"
    assert SHARED_KEY not in page.content()

    # The call is in the history: who, model, key source, outcome; never key or prompt.
    [call] = ai_calls(fresh_db)
    assert call["provider"] == "openrouter"
    assert call["model"] == "openai/gpt-4o"
    assert call["key_source"] == "shared"
    assert call["outcome"] == "ok"
    assert prompt not in str(call) and SHARED_KEY not in str(call)


def test_image_prompt_shows_the_image_with_personal_key(page, live_server, sign_in, demo, fake):
    admin = sign_in("operator")
    admins.save_provider_settings(admin, demo["openai"], personal_api_key=PERSONAL_KEY)
    open_playground(page, live_server, demo["openai"], "image")

    expect_plan(
        page, ("GPT Image 1", "gpt-image-1"), "personal", (PERSONAL_LABEL, "…" + PERSONAL_KEY[-4:])
    )

    send(page, "یک گربه روی پشت‌بام")

    image = page.locator("#playground-result [data-playground-answer] img")
    expect(image).to_have_attribute("src", f"data:image/png;base64,{TINY_PNG}")
    expect(image).to_have_attribute("alt", "تصویر ساخته‌شده")
    # The browser decoded it (the CSP allows data: images): a 1×1 PNG.
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 1 && img.naturalHeight === 1",
        arg=image.element_handle(),
    )
    footer = page.locator("#playground-result [data-playground-answer] [role=status]")
    expect(footer).to_contain_text("gpt-image-1")
    expect(footer).to_contain_text(PERSONAL_LABEL)
    assert_no_reload(page, live_server)

    seen = fake.requests
    assert [(r.method, r.path) for r in seen] == [("POST", "/images/generations")]
    assert seen[0].json["model"] == "gpt-image-1"
    assert seen[0].json["prompt"] == "یک گربه روی پشت‌بام"
    assert seen[0].authorization == f"Bearer {PERSONAL_KEY}"
    assert PERSONAL_KEY not in page.content()


def test_provider_refusing_the_key_shows_the_error_in_place(
    page, live_server, sign_in, demo, fake, fresh_db
):
    sign_in("operator")
    fake.script("POST", "/chat/completions", Reply(401))
    open_playground(page, live_server, demo["openrouter"])
    expect(page.locator("#playground-plan [data-plan-key]")).to_have_attribute(
        "data-plan-key", "shared"
    )

    send(page, "Hello")

    error = page.locator("#playground-result [data-playground-error]")
    expect(error).to_have_attribute("role", "alert")
    expect(error).to_have_text(KEY_REFUSED)
    expect(page.locator("#playground-result [data-playground-answer]")).to_have_count(0)
    assert_no_reload(page, live_server)

    seen = fake.requests  # a 401 is not retried
    assert [(r.method, r.path) for r in seen] == [("POST", "/chat/completions")]
    assert seen[0].json["model"] == "openai/gpt-4o"
    assert seen[0].authorization == f"Bearer {SHARED_KEY}"
    [call] = ai_calls(fresh_db)
    assert (call["outcome"], call["error_kind"], call["http_status"]) == ("error", "auth", 401)


def test_no_active_model_shows_the_error_and_sends_nothing(page, live_server, sign_in, demo, fake):
    activation.clear_group(demo["openrouter"].id, "chat", actor="test")
    sign_in("operator")
    open_playground(page, live_server, demo["openrouter"])

    expect(page.locator("#playground-plan [data-plan-model]")).to_contain_text(NO_ACTIVE_MODEL)
    # The registered chat models are offered as an explicit choice, the active one is default.
    expect(page.locator("#playground-model")).to_have_value("")
    expect(page.locator("#playground-model option[value='gpt-4o']")).to_have_count(1)

    send(page, "Hello")

    error = page.locator("#playground-result [data-playground-error]")
    expect(error).to_have_attribute("role", "alert")
    expect(error).to_have_text(NO_ACTIVE_MODEL)
    assert_no_reload(page, live_server)
    assert fake.requests == []


def test_no_api_access_shows_the_error_and_sends_nothing(page, live_server, sign_in, demo, fake):
    sign_in("viewer")  # may see the playground, may not use the shared key
    open_playground(page, live_server, demo["openrouter"])

    key = page.locator("#playground-plan [data-plan-key]")
    expect(key).to_have_attribute("data-plan-key", "none")
    expect(key).to_have_text(NO_SHARED_FOR_YOU)
    expect(page.locator("#playground-plan [data-plan-model]")).to_contain_text("openai/gpt-4o")

    # «ارسال» is disabled, the reason beside it (the server refuses such a post too).
    expect(page.locator("#playground-send")).to_be_disabled()
    expect(page.locator("#playground-send-reason")).to_have_text(NO_SHARED_FOR_YOU)
    assert fake.requests == []


# --- test connection on the providers page ----------------------------------------------


def test_connection_button(page, live_server, sign_in, demo, fake):
    """OK with the model count and latency; then, the base URL on a closed port, the error."""
    openrouter, openai = demo["openrouter"], demo["openai"]
    sign_in("admin")  # manage_providers
    page.goto(live_server("/providers"))
    row = page.locator(f"#provider-{openrouter.id}")
    expect(row.locator("th")).to_have_text("OpenRouter")
    button = row.get_by_role("button", name="آزمایش اتصال OpenRouter")
    result = page.locator(f"#provider-{openrouter.id}-test-result [data-connection-result]")
    page.evaluate("window.__noReload = 'still here'")

    button.click()

    expect(result).to_have_attribute("data-connection-result", "ok")
    expect(result).to_have_attribute("role", "status")
    expect(result).to_contain_text(CONNECTION_OK)
    expect(result).to_contain_text(f"{fa_digits(len(fake.models))} مدل")
    expect(result).to_contain_text(SHARED_LABEL)
    latency = re.search(r"([۰-۹]+) میلی‌ثانیه", result.inner_text())
    assert latency, result.inner_text()
    assert 0 <= persian_int(latency.group(1)) < 3000
    # Only the tested row got a result.
    expect(page.locator(f"#provider-{openai.id}-test-result")).to_be_empty()
    seen = fake.requests
    assert [(r.method, r.path) for r in seen] == [("GET", "/models")]
    assert seen[0].authorization == f"Bearer {SHARED_KEY}"

    fake.reset()
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    catalog.update_provider(
        openrouter, {"base_url": dead, "shared_api_key": SHARED_KEY}, actor="test"
    )

    button.click()

    expect(result).to_have_attribute("data-connection-result", "error")
    expect(result).to_have_attribute("role", "alert")
    expect(result).to_have_attribute("data-error-kind", "unreachable")
    expect(result).to_contain_text(UNREACHABLE)
    expect(result).not_to_contain_text(CONNECTION_OK)
    expect(result).to_have_count(1)  # the new result replaced the old one
    assert fake.requests == []
    assert page.evaluate("window.__noReload") == "still here", "the page reloaded"
    assert page.url == live_server("/providers")
