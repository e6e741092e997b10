"""The playground, test connection and catalogue sync pages, through the loopback provider."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.ai.fake_provider import Reply
from tests.support import PERSONAL_KEY, SHARED_KEY, csrf_token, text
from webapp.models import AIModel

HTMX = {"HX-Request": "true"}


@pytest.fixture
def gpt(make_model, provider):
    return make_model(provider, "gpt-4o", caps=["chat"], model_id="openai/gpt-4o", active=True)


def post(client, path, data=None, htmx=False):
    token = csrf_token(client, "/playground")
    headers = {"X-CSRFToken": token} | (HTMX if htmx else {})
    return client.post(path, data=data or {}, headers=headers)


def ask(client, prompt: str, *, htmx: bool = True, **fields):
    """Send ``prompt`` from the playground (to openrouter unless ``provider`` says)."""
    return post(client, "/playground", {"provider": "openrouter", "prompt": prompt} | fields, htmx)


# --- playground -------------------------------------------------------------------------


def test_playground_shows_model_and_key_source(login_as, provider, gpt, give_personal_key):
    client = login_as("operator")
    give_personal_key(client.admin, provider)

    page = client.get("/playground?provider=openrouter&capability=chat")

    assert page.status_code == 200
    body = text(page)
    assert "openai/gpt-4o" in body
    assert 'data-plan-key="personal"' in body
    assert "…3210" in body  # the hint, never the key
    assert PERSONAL_KEY not in body and SHARED_KEY not in body
    assert "<script>" not in body and 'style="' not in body


def test_plan_fragment_follows_the_choice(login_as, provider, gpt):
    client = login_as("viewer")

    chat = client.get("/playground/plan?provider=openrouter&capability=chat", headers=HTMX)
    image = client.get("/playground/plan?provider=openrouter&capability=image", headers=HTMX)

    assert 'id="playground-plan"' in text(chat)
    assert "openai/gpt-4o" in text(chat)
    assert 'data-plan-key="none"' in text(chat)  # a viewer may not use the shared key
    assert "هیچ مدل فعالی برای این Provider+Capability وجود ندارد" in text(image)


def test_prompt_is_answered_through_the_provider(login_as, provider, gpt, fake_provider):
    client = login_as("operator")

    response = ask(client, "سلام", capability="chat")

    assert response.status_code == 200
    body = text(response)
    assert "سلام از openai/gpt-4o" in body
    assert "data-playground-answer" in body
    assert "<html" not in body  # a fragment
    (seen,) = fake_provider.seen("/chat/completions")
    assert seen.authorization == f"Bearer {SHARED_KEY}"


def test_image_answer_is_shown(login_as, provider, make_model, fake_provider):
    make_model(provider, "dall-e-3", caps=["image"], model_id="dall-e-3", active=True)
    client = login_as("operator")

    response = ask(client, "a cat", capability="image")

    assert re.search(r'<img[^>]+src="data:image/png;base64,', text(response))


def test_errors_are_shown_in_place(login_as, provider, gpt, fake_provider):
    client = login_as("operator")
    fake_provider.always("POST", "/chat/completions", Reply(401))

    response = ask(client, "hi")

    assert response.status_code == 200  # htmx swaps it
    assert 'role="alert"' in text(response)
    assert "ارائه‌دهنده کلید API را نپذیرفت" in text(response)


@pytest.mark.parametrize(
    "role, provider_slug",
    [
        pytest.param("viewer", "openrouter", id="viewer-without-a-key"),
        pytest.param("operator", "nope", id="unknown-provider-never-replaced-by-another"),
    ],
)
def test_a_call_that_may_not_go_out_shows_an_alert_and_sends_nothing(
    login_as, provider, gpt, fake_provider, role, provider_slug
):
    client = login_as(role)

    response = ask(client, "hi", provider=provider_slug)

    assert 'role="alert"' in text(response)
    assert fake_provider.requests == []


def test_playground_without_javascript_renders_the_whole_page(login_as, provider, gpt):
    client = login_as("operator")

    response = ask(client, "hi", htmx=False)

    assert "<html" in text(response)
    assert "سلام از openai/gpt-4o" in text(response)


def test_playground_needs_sign_in(client):
    assert client.get("/playground").status_code == 302


# --- test connection --------------------------------------------------------------------


def test_test_connection_fragment(login_as, provider, fake_provider):
    client = login_as("admin")

    response = post(client, "/providers/openrouter/test-connection", htmx=True)

    assert response.status_code == 200
    body = text(response)
    assert 'data-connection-result="ok"' in body
    assert "اتصال برقرار است." in body
    assert len(fake_provider.seen("/models")) == 1


def test_test_connection_failure_fragment(login_as, provider, fake_provider):
    fake_provider.always("GET", "/models", Reply(500))
    client = login_as("admin")

    response = post(client, "/providers/openrouter/test-connection", htmx=True)

    assert 'data-connection-result="error"' in text(response)
    assert 'role="alert"' in text(response)


def test_test_connection_without_htmx_flashes_and_redirects(login_as, provider):
    client = login_as("admin")
    response = post(client, "/providers/openrouter/test-connection")
    assert response.status_code == 302


def test_test_connection_unknown_provider_is_404(login_as):
    client = login_as("admin")
    assert post(client, "/providers/nope/test-connection", htmx=True).status_code == 404


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_test_connection_and_sync_need_manage_providers(login_as, provider, fake_provider, role):
    client = login_as(role)

    assert post(client, "/providers/openrouter/test-connection", htmx=True).status_code == 403
    assert client.get("/providers/openrouter/sync").status_code == 403
    assert post(client, "/providers/openrouter/sync", {"rows": "0"}).status_code == 403
    assert fake_provider.requests == []


# --- sync -------------------------------------------------------------------------------


def test_sync_page_adds_the_chosen_models(db, login_as, provider, gpt, fake_provider):
    client = login_as("admin")

    assert 'data-sync-row="dall-e-3"' not in text(client.get("/providers/openrouter/sync"))
    assert fake_provider.requests == []  # a GET only offers to fetch
    page = post(client, "/providers/openrouter/sync", {"action": "fetch"})
    body = text(page)
    assert page.status_code == 200
    assert 'data-sync-row="dall-e-3"' in body
    assert 'data-sync-row="openai/gpt-4o"' not in body  # already registered
    rows = re.findall(r'name="model_id-(\d+)" value="([^"]+)"', body)
    by_id = {model_id: i for i, model_id in rows}

    i, j = by_id["dall-e-3"], by_id["local-chat"]
    response = post(
        client,
        "/providers/openrouter/sync",
        {
            "rows": str(len(rows)),
            "add": [i, j],
            f"model_id-{i}": "dall-e-3",
            f"display_name-{i}": "DALL·E 3",
            f"caps-{i}": ["image"],
            f"model_id-{j}": "local-chat",
            f"display_name-{j}": "Local chat",
            f"caps-{j}": ["chat", "code"],
        },
    )

    assert response.status_code == 302
    db.session.expire_all()
    added = {
        m.model_id: m
        for m in db.session.scalars(select(AIModel).where(AIModel.provider_id == provider.id))
    }
    assert added["dall-e-3"].capabilities == ["image"]
    assert added["dall-e-3"].display_name == "DALL·E 3"
    assert added["local-chat"].capabilities == ["chat", "code"]
    assert not added["dall-e-3"].is_active and not added["local-chat"].is_active
    assert len(added) == 3

    assert "مدل" in text(client.get("/providers/openrouter/sync"))  # the flash
    again = post(client, "/providers/openrouter/sync", {"action": "fetch"})
    assert 'data-sync-row="dall-e-3"' not in text(again)


def test_sync_with_nothing_chosen_says_so(login_as, provider):
    client = login_as("admin")
    response = post(client, "/providers/openrouter/sync", {"rows": "1", "model_id-0": "x"})
    assert response.status_code == 400
    assert 'role="alert"' in text(response)


def test_sync_shows_the_provider_error(login_as, provider, fake_provider):
    fake_provider.always("GET", "/models", Reply(401))
    client = login_as("admin")
    response = post(client, "/providers/openrouter/sync", {"action": "fetch"})
    assert "data-sync-error" in text(response)
    assert "ارائه‌دهنده کلید API را نپذیرفت" in text(response)


def test_another_model_can_be_tried_for_one_call(
    login_as, provider, gpt, make_model, fake_provider
):
    make_model(provider, "claude", caps=["chat"], model_id="anthropic/claude-3.5-sonnet")
    client = login_as("operator")

    page = client.get("/playground?provider=openrouter&capability=chat")
    assert '<option value="claude">' in text(page)

    response = ask(client, "hi", capability="chat", model_name="claude")

    assert "سلام از anthropic/claude-3.5-sonnet" in text(response)
    assert "انتخاب‌شده برای همین فراخوانی" in text(response)
    assert fake_provider.seen()[0].json["model"] == "anthropic/claude-3.5-sonnet"
