"""API tokens page: list, create (plaintext shown once), revoke with confirmation."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.support import field_error, text
from webapp.extensions import db
from webapp.models import ApiToken
from webapp.operations import admins


def tokens_of(admin) -> list[ApiToken]:
    db.session.expire_all()
    return list(db.session.scalars(select(ApiToken).where(ApiToken.admin_id == admin.id)))


def test_create_shows_the_token_once(login_as, post):
    client = login_as("viewer")

    response = post(client, "/tokens", {"name": "content service"})

    body = text(response)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    [token] = tokens_of(client.admin)
    plaintext = body.split('id="new-token-value"')[1].split('value="')[1].split('"')[0]
    assert plaintext.startswith(token.prefix)
    assert admins.admin_for_token(plaintext).id == client.admin.id
    assert "کپی" in body and "فقط همین یک بار" in body
    assert "content service" in body
    # Copying is done by static/js/app.js (no inline script), wired by data attributes.
    assert 'data-copy-target="#new-token-value"' in body
    script = client.get("/static/js/app.js")
    assert script.status_code == 200 and b"data-copy-target" in script.data
    assert "/static/js/app.js" in body

    again = text(client.get("/tokens"))
    assert plaintext not in again
    assert token.prefix in again and "content service" in again


def test_list_shows_created_last_used_and_revoked(login_as):
    client = login_as("viewer")
    live, _ = admins.create_token(client.admin, "live")
    dead, _ = admins.create_token(client.admin, "dead")
    admins.revoke_token(dead, actor=client.admin)

    body = text(client.get("/tokens"))

    live_row = body.split(f'id="token-{live.id}"')[1].split("</tr>")[0]
    dead_row = body.split(f'id="token-{dead.id}"')[1].split("</tr>")[0]
    assert "هرگز" in live_row and "فعال" in live_row and "ابطال" in live_row
    assert "باطل‌شده" in dead_row and "/revoke" not in dead_row
    assert "<time datetime=" in live_row


def test_too_long_name_is_refused_next_to_the_field(login_as, post):
    client = login_as("viewer")

    response = post(client, "/tokens", {"name": "n" * 101})

    assert response.status_code == 400
    assert "حداکثر" in field_error(text(response), "name")
    assert tokens_of(client.admin) == []
    assert 'id="new-token-value"' not in text(response)


def test_revoke_asks_first_then_revokes(login_as, post):
    client = login_as("operator")
    token, plaintext = admins.create_token(client.admin, "ci")

    page = client.get(f"/tokens/{token.id}/revoke")
    assert page.status_code == 200 and "ci" in text(page)
    assert tokens_of(client.admin)[0].revoked_at is None  # asking changed nothing

    response = post(client, f"/tokens/{token.id}/revoke", follow_redirects=True)

    assert "باطل شد" in text(response)
    assert tokens_of(client.admin)[0].revoked_at is not None
    assert admins.admin_for_token(plaintext) is None


def test_an_admin_never_sees_or_revokes_anothers_token(login_as, make_admin, post):
    other = make_admin("superadmin")
    theirs, _ = admins.create_token(other, "theirs")
    client = login_as("superadmin")  # even a superadmin: tokens are personal

    body = text(client.get("/tokens"))
    assert "theirs" not in body and theirs.prefix not in body
    assert client.get(f"/tokens/{theirs.id}/revoke").status_code == 404
    assert post(client, f"/tokens/{theirs.id}/revoke").status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiToken, theirs.id).revoked_at is None


def test_revoking_twice_says_so(login_as, post):
    client = login_as("viewer")
    token, _ = admins.create_token(client.admin, "x")
    admins.revoke_token(token, actor=client.admin)

    response = post(client, f"/tokens/{token.id}/revoke", follow_redirects=True)

    assert "پیش‌تر باطل شده" in text(response)
    assert db.session.scalar(select(func.count(ApiToken.id))) == 1
