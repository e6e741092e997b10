"""Hostile input on the dashboard's pages (and the API's error echo): a Persian 400 or
404, never a 500, and nothing changes.

Ids beyond the database's INTEGER column, NUL bytes (PostgreSQL refuses them in text),
lone surrogates (not encodable in UTF-8), numbers that only look like digits and days
at the ends of the calendar.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests import support
from webapp.extensions import db
from webapp.models import AIModel, AuditEvent, Provider

NOT_FOUND_PAGE = "صفحه پیدا نشد"


@pytest.fixture
def superadmin(login_as, make_provider, make_model):
    provider = make_provider("openrouter")
    make_model(provider, "gpt-4o", caps=["chat"], active=True)
    return login_as("superadmin")


def _state() -> tuple:
    db.session.expire_all()
    return (
        db.session.scalar(select(func.count()).select_from(AIModel)),
        db.session.scalar(select(func.count()).select_from(Provider)),
        db.session.scalar(select(func.count()).select_from(AuditEvent)),
    )


HUGE_IDS = ["99999999999999999999", "2147483648", "9223372036854775808", "0", "0" * 30 + "1" * 30]


@pytest.mark.parametrize("number", HUGE_IDS)
@pytest.mark.parametrize(
    "path",
    [
        "/models/{}/edit",
        "/models/{}/delete",
        "/providers/{}/edit",
        "/providers/{}/delete",
        "/admins/{}/edit",
        "/tokens/{}/revoke",
    ],
)
def test_ids_beyond_the_column_are_404(superadmin, path, number):
    response = superadmin.get(path.format(number))
    assert response.status_code == 404
    assert NOT_FOUND_PAGE in response.get_data(as_text=True)


def test_posting_to_an_id_beyond_the_column_is_404_and_changes_nothing(superadmin):
    before = _state()
    token = support.csrf_token(superadmin, "/models")
    for path in ("/models/99999999999999999999/delete", "/providers/2147483648/disable"):
        response = superadmin.post(path, data={"csrf_token": token})
        assert response.status_code == 404, path
    assert _state() == before


@pytest.mark.parametrize(
    "day", ["0001-01-01", "0001/01/01", "9999/12/29", "9999-12-30", "9999-12-31"]
)
def test_history_days_far_away_are_answered(superadmin, day):
    assert superadmin.get(f"/history?date_from={day}").status_code in (200, 400)
    if day != "9999-12-31":
        assert superadmin.get(f"/history?date_to={day}").status_code in (200, 400)


def test_the_largest_id_still_routes(superadmin):
    assert superadmin.get("/models/2147483647/edit").status_code == 404  # routed, not found


@pytest.mark.parametrize(
    "query",
    [
        "/models?q=%00",
        "/models?provider=%00",
        "/history?actor=%00",
        "/history?action=%00",
        "/history?date_from=%00",
        "/providers?x%00=1",
        "/models/new?provider=a%00b",
        "/models/preview?activate=1&provider=%00&capabilities=chat",
    ],
)
def test_nul_in_a_query_is_a_persian_400(superadmin, query):
    response = superadmin.get(query)
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True) or "نویسه" in response.get_data(as_text=True)


def test_nul_in_a_form_is_refused_and_saves_nothing(superadmin, post):
    before = _state()
    response = post(superadmin, "/models/new", support.model_fields("fresh", description="a\x00b"))
    assert response.status_code == 400
    assert "نویسه" in response.get_data(as_text=True)
    assert _state() == before


def test_nul_in_a_path_is_404_or_400(superadmin):
    response = superadmin.get("/providers/%00/edit")
    assert response.status_code in (400, 404)


@pytest.mark.parametrize(
    "query",
    [
        "/history?page=%C2%B2",  # '²'.isdigit() is true, int('²') fails
        "/history?page=%DB%B2",  # a Persian digit
        "/history?page=99999999999999999999999999",
        "/history?page=-1",
        "/history?date_to=9999-12-31",
    ],
)
def test_history_refuses_numbers_and_days_it_cannot_use(superadmin, query):
    before = _state()
    response = superadmin.get(query)
    assert response.status_code == 400, response.get_data(as_text=True)[:500]
    assert "alert" in response.get_data(as_text=True) or "invalid" in response.get_data(
        as_text=True
    )
    assert _state() == before


# --- the API's error echo -----------------------------------------------------------------


def _post_raw(client, headers, body: str):
    return client.post(
        "/api/v1/ai-models/",
        data=body.encode("utf-8"),
        headers=headers | {"Content-Type": "application/json"},
    )


@pytest.mark.parametrize(
    "body",
    [
        '{"capabilities": ["\\ud800"], "provider": "openrouter", "name": "x", "model_id": "x",'
        ' "display_name": "x"}',
        '{"\\udfff": 1}',
        '{"provider": "op\\ud83denrouter", "name": "x", "model_id": "x", "display_name": "x",'
        ' "capabilities": ["chat"]}',
    ],
)
def test_a_lone_surrogate_is_never_echoed_raw(app, client, make_admin, make_provider, body):
    from webapp.operations import admins

    make_provider("openrouter")
    _, token = admins.create_token(make_admin(), "t")
    before = _state()
    response = _post_raw(client, {"Authorization": f"Bearer {token}"}, body)
    assert response.status_code in (400, 404)
    raw = response.get_data()
    raw.decode("utf-8")  # valid UTF-8 throughout
    parsed = json.loads(raw)
    assert parsed["metaData"]["status"] == "error"
    assert _state() == before
