"""API tokens may carry an expiry date; an expired token is refused like a wrong one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support import csrf_token
from webapp.errors import ValidationError
from webapp.extensions import db
from webapp.models import ApiToken, utcnow
from webapp.operations import admins

API = "/api/v1/ai-models/"


def test_a_token_works_until_it_expires(app, make_admin):
    admin = make_admin("viewer")
    token, plaintext = admins.create_token(admin, "ci", expires_days=7)
    assert timedelta(days=6, hours=23) < token.expires_at - utcnow() <= timedelta(days=7)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert client.get(API, headers=headers).status_code == 200
    token = db.session.get(ApiToken, token.id)
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get(API, headers=headers).status_code == 401


def test_without_expiry_a_token_does_not_expire(app, make_admin):
    token, _ = admins.create_token(make_admin("viewer"), "ci")
    assert token.expires_at is None


@pytest.mark.parametrize("days", [0, -1, "abc", 3651, 1.5])
def test_a_bad_expiry_is_refused_and_creates_nothing(app, make_admin, days):
    admin = make_admin("viewer")
    with pytest.raises(ValidationError) as caught:
        admins.create_token(admin, "ci", expires_days=days)
    assert caught.value.field == "expires_days"
    db.session.rollback()
    assert db.session.query(ApiToken).count() == 0


def test_the_tokens_page_sets_and_shows_the_expiry(login_as):
    client = login_as("viewer")
    page = client.get("/tokens").get_data(as_text=True)
    assert 'name="expires_days"' in page
    response = client.post(
        "/tokens",
        data={"name": "ci", "expires_days": "30", "csrf_token": csrf_token(client, "/tokens")},
    )
    assert response.status_code == 201
    body = response.get_data(as_text=True)
    assert "انقضا" in body
    token = db.session.query(ApiToken).one()
    assert token.expires_at is not None
    bad = client.post(
        "/tokens",
        data={"name": "ci", "expires_days": "0", "csrf_token": csrf_token(client, "/tokens")},
    )
    assert bad.status_code == 400
    assert db.session.query(ApiToken).count() == 1


def test_cli_create_token_takes_expires_days(app, runner, make_admin):
    make_admin("viewer", username="bot")
    result = runner.invoke(args=["create-token", "bot", "--name", "ci", "--expires-days", "10"])
    assert result.exit_code == 0, result.output
    token = db.session.query(ApiToken).one()
    assert timedelta(days=9) < token.expires_at - utcnow() <= timedelta(days=10)
    bad = runner.invoke(args=["create-token", "bot", "--expires-days", "0"])
    assert bad.exit_code != 0
    assert db.session.query(ApiToken).count() == 1
