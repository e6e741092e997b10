"""Unticking a capability of the live model on the model form is previewed like an
activation: a page names the group left without a live model, and only a confirmation
of exactly that change saves it."""

from __future__ import annotations

import re

from tests.support import text
from webapp.extensions import db
from webapp.models import AIModel


def reload(model_id: int) -> AIModel:
    db.session.expire_all()
    return db.session.get(AIModel, model_id)


def form_of(model, caps) -> dict:
    return {
        "name": model.name,
        "model_id": model.model_id,
        "display_name": model.display_name,
        "capabilities": list(caps),
    }


def hidden_fields(body: str) -> list[tuple[str, str]]:
    return re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', body)


def test_dropping_a_live_capability_asks_first(login_as, post, make_provider, make_model):
    client = login_as("operator")
    p = make_provider("openrouter", name="OpenRouter")
    model = make_model(p, "gpt-4o", caps=["chat", "code"], active=["chat"], display_name="GPT-4o")
    url = f"/models/{model.id}/edit?next=/models%23group-x"

    asked = post(client, url, form_of(model, ["code"]))

    assert asked.status_code == 200
    body = text(asked)
    assert "مدل فعال از کار خارج شود؟" in body
    assert (
        "<bdi>GPT-4o</bdi> دیگر مدل فعال «گفت‌وگو» در <bdi>OpenRouter</bdi> نیست: "
        "تا وقتی مدل دیگری فعال نشود، فراخوانی‌های این قابلیت خطا می‌دهند."
    ) in body
    assert "بله، بدون آن ذخیره شود" in body
    assert reload(model.id).capabilities == ["chat", "code"]  # nothing saved yet
    assert reload(model.id).active_capabilities == ["chat"]

    # The confirmation carries the form as it was and saves it.
    fields = hidden_fields(body)
    assert ("capabilities", "code") in fields and ("display_name", "GPT-4o") in fields
    confirm = dict(fields)
    confirm["capabilities"] = [v for k, v in fields if k == "capabilities"]
    assert 'action="/models/' in body and "next=/models%23group-x" in body
    saved = post(client, url, confirm)
    assert saved.status_code == 302 and saved.headers["Location"] == "/models#group-x"
    after = reload(model.id)
    assert after.capabilities == ["code"] and after.active_capabilities == []


def test_a_confirmation_of_another_change_does_not_count(login_as, post, make_provider, make_model):
    client = login_as("operator")
    p = make_provider("openrouter")
    model = make_model(p, "m", caps=["chat", "code"], active=["chat", "code"])
    url = f"/models/{model.id}/edit"

    # Confirmed dropping "chat" only, then also unticked "code": asked again.
    data = form_of(model, ["image"]) | {"confirm_drop": f"{model.id}|chat"}
    again = post(client, url, data)

    assert "مدل فعال از کار خارج شود؟" in text(again)
    assert text(again).count("data-dropped-capability=") == 2
    assert reload(model.id).active_capabilities == ["chat", "code"]


def test_no_question_when_no_live_capability_is_dropped(login_as, post, make_provider, make_model):
    client = login_as("operator")
    p = make_provider("openrouter")
    live = make_model(p, "live", caps=["chat", "code"], active=["chat"])
    idle = make_model(p, "idle", caps=["chat", "code"])

    kept = post(client, f"/models/{live.id}/edit", form_of(live, ["chat"]))
    assert kept.status_code == 302
    assert reload(live.id).capabilities == ["chat"]
    assert reload(live.id).active_capabilities == ["chat"]

    inactive = post(client, f"/models/{idle.id}/edit", form_of(idle, ["code"]))
    assert inactive.status_code == 302 and reload(idle.id).capabilities == ["code"]


def test_bad_input_is_refused_before_the_question(login_as, post, make_provider, make_model):
    client = login_as("operator")
    p = make_provider("openrouter")
    model = make_model(p, "m", caps=["chat", "code"], active=["chat"])

    response = post(client, f"/models/{model.id}/edit", form_of(model, ["code"]) | {"name": ""})

    assert response.status_code == 400
    assert "مدل فعال از کار خارج شود؟" not in text(response)
    assert reload(model.id).active_capabilities == ["chat"]
