"""The playground and the traffic policies: the answer says which model answered and that
it was a fallback (with the attempt that failed), the plan lists the fallbacks, the page
opens on a provider that can answer, and «ارسال» is disabled with the reason when nothing
can be sent."""

from __future__ import annotations

from tests.ai.fake_provider import Reply
from tests.html_tree import parse
from tests.support import csrf_token, shared_key_on
from webapp.operations import routing

HTMX = {"HX-Request": "true"}
BACKUP_KEY = "sk-backup-00112233445566778899"


def send(client, data: dict):
    token = csrf_token(client, "/playground")
    return client.post("/playground", data=data, headers={"X-CSRFToken": token} | HTMX)


def test_a_fallback_answer_says_so(login_as, provider, make_provider, make_model, fake_provider):
    make_model(provider, "gpt-4o", caps=["chat"], active=True, model_id="openai/gpt-4o")
    backup = make_provider(
        "backup", base_url=fake_provider.url, shared_api_enabled=True, shared_api_key=BACKUP_KEY
    )
    mistral = make_model(backup, "mistral", caps=["chat"], model_id="mistral/large")
    routing.set_routing(provider.id, "chat", [mistral.id], [])
    fake_provider.script("POST", "/chat/completions", *[Reply(500)] * 3)
    client = login_as("operator")

    answer = send(client, {"provider": "openrouter", "capability": "chat", "prompt": "سلام"})

    tree = parse(answer.get_data(as_text=True))
    card = next(el for el in tree.find_all("div") if el.has("data-playground-answer"))
    assert card.get("data-route") == "fallback"
    assert "سلام از mistral/large" in card.text
    note = next(el for el in card.find_all("div") if el.has("data-playground-fallback"))
    assert "پاسخ را مدل پشتیبان داد: mistral/large از backup" in note.text
    assert "openai/gpt-4o از openrouter پاسخ نداد" in note.text
    assert "(پشتیبان)" in card.text
    assert BACKUP_KEY not in answer.get_data(as_text=True)
    assert [s.authorization for s in fake_provider.seen("/chat/completions")][-1] == (
        f"Bearer {BACKUP_KEY}"
    )


def test_the_plan_lists_the_fallbacks(login_as, provider, make_provider, make_model):
    make_model(provider, "gpt-4o", caps=["chat"], active=True)
    backup = make_provider("backup", name="Backup AI")
    mistral = make_model(backup, "mistral", caps=["chat"], display_name="Mistral Large")
    routing.set_routing(provider.id, "chat", [mistral.id], [])

    page = login_as("viewer").get("/playground?provider=openrouter&capability=chat")

    tree = parse(page.get_data(as_text=True))
    listed = next(el for el in tree.find_all("dd") if el.has("data-plan-fallbacks"))
    assert listed.text == "Mistral Large"


def test_the_page_opens_on_a_provider_with_a_live_model(
    login_as, make_provider, make_model, fake_provider
):
    make_provider("aaa-empty", name="AAA empty", base_url=fake_provider.url)
    live = make_provider(
        "zzz-live",
        name="ZZZ live",
        base_url=fake_provider.url,
        **shared_key_on(),
    )
    make_model(live, "gpt", caps=["chat"], active=True)

    page = login_as("operator").get("/playground")

    tree = parse(page.get_data(as_text=True))
    chosen = next(o for o in tree.find_all("option") if o.has("selected"))
    assert chosen.get("value") == "zzz-live"
    assert not tree.by_id("playground-send").has("disabled")


def test_send_is_disabled_with_the_reason_when_there_is_no_model_or_no_key(
    login_as, provider, make_model
):
    operator = login_as("operator")
    empty = parse(
        operator.get("/playground?provider=openrouter&capability=image").get_data(as_text=True)
    )
    assert empty.by_id("playground-send").has("disabled")
    assert "مدل فعالی ندارد" in empty.by_id("playground-send-reason").text

    make_model(provider, "gpt-4o", caps=["chat"], active=True)
    viewer = login_as("viewer")  # may not use the shared key
    fragment = viewer.get(
        "/playground/plan?provider=openrouter&capability=chat", headers=HTMX
    ).get_data(as_text=True)
    area = parse(fragment).by_id("playground-send-area")
    assert area.get("hx-swap-oob") == "true"
    assert area.find("button").has("disabled")
    assert area.find("span").text  # the key's reason in words
