"""Persian display text keeps its joiners and marks (ZWNJ, ZWJ, LRM, RLM); characters
that can disguise text (bidi embeddings, overrides and isolates, C0/C1 controls) are
refused with a Persian message, and nothing is saved."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests import support
from tests.support import envelope_error, envelope_ok
from webapp.extensions import db
from webapp.models import AIModel

CONTROL_MESSAGE = "نویسه‌های کنترلی مجاز نیستند."
ALLOWED = {
    "zwnj": "علی\u200cرضا",
    "zwj": "اوپن\u200dروتر",
    "lrm": "مدل \u200eGPT-4o\u200e",
    "rlm": "GPT\u200f مدل",
}
REFUSED = {
    "lre": "a\u202ab",
    "rle": "a\u202bb",
    "pdf": "a\u202cb",
    "lro": "a\u202db",
    "rlo": "gpt\u202e4o",
    "lri": "a\u2066b",
    "rli": "a\u2067b",
    "fsi": "a\u2068b",
    "pdi": "a\u2069b",
    "nul": "a\x00b",
    "bell": "a\x07b",
    "c1": "a\x85b",
    "surrogate": "a\ud800b",
}


def _models() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(AIModel))


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_api_keeps_persian_joiners_and_marks(api, make_provider, name):
    make_provider("openrouter")
    value = ALLOWED[name]
    created = envelope_ok(
        api(
            "POST",
            "/ai-models/",
            json={
                "provider": "openrouter",
                "name": f"m-{name}",
                "model_id": f"v/{name}",
                "display_name": value,
                "capabilities": ["chat"],
            },
        ),
        201,
    )
    assert created["data"]["display_name"] == value
    shown = envelope_ok(api("GET", f"/ai-models/{created['data']['id']}/"))
    assert shown["data"]["display_name"] == value


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_api_refuses_disguising_characters(api, make_provider, name):
    make_provider("openrouter")
    before = _models()
    response = api(
        "POST",
        "/ai-models/",
        json={
            "provider": "openrouter",
            "name": "m1",
            "model_id": "v/m1",
            "display_name": REFUSED[name],
            "capabilities": ["chat"],
        },
    )
    body = envelope_error(response, 400)
    assert body["errors"]["display_name"] == [CONTROL_MESSAGE]
    assert _models() == before


def _new_model_form(client, display_name: str):
    fields = support.model_fields("ali-reza", display_name=display_name)
    return support.post_form(client, "/models/new", fields)


def test_dashboard_form_saves_and_shows_a_half_space(login_as, make_provider):
    make_provider("openrouter")
    client = login_as("operator")
    response = _new_model_form(client, "علی\u200cرضا")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    page = client.get("/models").get_data(as_text=True)
    assert "علی\u200cرضا" in page
    assert db.session.scalar(select(AIModel.display_name)) == "علی\u200cرضا"


def test_dashboard_form_refuses_an_override(login_as, make_provider):
    make_provider("openrouter")
    client = login_as("operator")
    response = _new_model_form(client, "gpt\u202e4o")
    assert response.status_code == 400
    assert CONTROL_MESSAGE in response.get_data(as_text=True)
    assert _models() == 0
