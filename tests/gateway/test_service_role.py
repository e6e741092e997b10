"""The ``service`` role: made from the CLI or the admins page, holds tokens, calls the gateway
with the shared key, never signs in (the sign-in refusal is in tests/views/test_access.py)."""

from __future__ import annotations

from sqlalchemy import select

from tests.support import SHARED_KEY, csrf_from
from webapp.extensions import db
from webapp.models import ROLES, Admin


def test_the_role_holds_only_use_shared_api():
    assert ROLES["service"] == frozenset({"use_shared_api"})


def test_a_program_account_from_the_cli(runner, sdk, catalogue, fake_provider):
    made = runner.invoke(
        args=["create-admin", "platform-bot", "--password", "bot-pass-1234", "--role", "service"]
    )
    assert made.exit_code == 0, made.output
    assert db.session.scalar(select(Admin.role).where(Admin.username == "platform-bot")) == (
        "service"
    )
    issued = runner.invoke(args=["create-token", "platform-bot", "--name", "content service"])
    token = issued.output.strip().splitlines()[-1]

    answer = sdk(token).chat.completions.create(
        model="openrouter", messages=[{"role": "user", "content": "hi"}]
    )

    assert answer.model == "openai/gpt-4o"
    assert fake_provider.seen()[0].authorization == f"Bearer {SHARED_KEY}"


def test_an_unknown_role_is_still_refused_by_the_cli(runner):
    result = runner.invoke(args=["create-admin", "x", "--password", "pass-12345", "--role", "bot"])
    assert result.exit_code != 0
    assert db.session.scalar(select(Admin).where(Admin.username == "x")) is None


def test_the_admins_page_offers_and_makes_the_role(login_as):
    client = login_as("superadmin")
    form = client.get("/admins/new").get_data(as_text=True)
    assert 'value="service"' in form and "سرویس" in form

    response = client.post(
        "/admins/new",
        data={
            "username": "bot",
            "role": "service",
            "password": "bot-pass-1234",
            "csrf_token": csrf_from(client, "/admins/new"),
        },
        follow_redirects=True,
    )

    assert response.status_code == 200
    assert db.session.scalar(select(Admin.role).where(Admin.username == "bot")) == "service"
    assert "سرویس" in client.get("/admins").get_data(as_text=True)


def test_the_tokens_page_explains_the_gateway(login_as):
    page = login_as("viewer").get("/tokens").get_data(as_text=True)
    assert 'value="http://localhost/v1"' in page
    assert "from openai import OpenAI" in page
    assert 'base_url="http://localhost/v1"' in page
    assert "curl http://localhost/v1/chat/completions" in page
    assert "استفاده از درگاه" in page
