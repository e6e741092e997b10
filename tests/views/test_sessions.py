"""Server-side sign-in sessions: logout, remember-me, sign out everywhere, and what a
password reset or role change does to an admin's sessions and API tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support import PASSWORD, csrf_token, post_login, sign_in, signed_in
from webapp.extensions import db
from webapp.models import ApiToken, LoginSession, utcnow
from webapp.operations import admins


def login_form_token(client) -> str:
    return csrf_token(client, "/login")


def sign_in_remembered(client, username: str):
    response = post_login(client, username, remember="y")
    assert response.status_code == 302
    return response


def log_out(client):
    return client.post("/logout", data={"csrf_token": csrf_token(client, "/tokens")})


def copy_cookie(source, target, name: str) -> None:
    cookie = source.get_cookie(name)
    assert cookie is not None, f"no {name} cookie"
    target.set_cookie(name, cookie.value)


def test_logout_kills_a_copied_session_cookie(app, make_admin):
    make_admin("operator", username="sara")
    browser, thief = app.test_client(), app.test_client()
    sign_in(browser, "sara")
    copy_cookie(browser, thief, "session")
    assert signed_in(thief)
    log_out(browser)
    assert not signed_in(browser)
    assert not signed_in(thief)
    assert db.session.query(LoginSession).count() == 0


def test_logout_kills_a_copied_remember_cookie(app, make_admin):
    make_admin("operator", username="sara")
    browser, thief = app.test_client(), app.test_client()
    sign_in_remembered(browser, "sara")
    copy_cookie(browser, thief, "remember_token")  # the remember cookie alone, no session
    assert signed_in(thief)
    log_out(browser)
    fresh = app.test_client()
    copy_cookie(browser if browser.get_cookie("remember_token") else thief, fresh, "remember_token")
    assert not signed_in(fresh)
    assert not signed_in(thief)


def test_remember_me_lasts_at_most_30_days(app, make_admin):
    assert app.config["REMEMBER_COOKIE_DURATION"] <= timedelta(days=30)
    make_admin("operator", username="sara")
    browser = app.test_client()
    response = sign_in_remembered(browser, "sara")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if "remember_token=" in c)
    assert "Max-Age=2592000" in cookie or "Expires=" in cookie
    record = db.session.query(LoginSession).one()
    assert record.expires_at - utcnow() <= timedelta(days=30, minutes=1)
    # The server decides, not the cookie: an expired record lets nobody in.
    record.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    thief = app.test_client()
    copy_cookie(browser, thief, "remember_token")
    assert not signed_in(thief)
    assert not signed_in(browser)


def test_the_remember_cookie_is_a_random_token_stored_hashed(app, make_admin):
    admin = make_admin("operator", username="sara")
    browser = app.test_client()
    sign_in_remembered(browser, "sara")
    value = browser.get_cookie("remember_token").value
    key = value.split("|")[0]
    assert key != str(admin.id) and len(key) >= 40
    record = db.session.query(LoginSession).one()
    assert record.id not in value  # only the hash is stored


def test_logout_on_one_device_keeps_the_others(app, make_admin):
    make_admin("operator", username="sara")
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone, "sara")
    sign_in(laptop, "sara")
    log_out(phone)
    assert not signed_in(phone)
    assert signed_in(laptop)


def test_sign_out_everywhere_from_the_tokens_page(app, make_admin):
    make_admin("operator", username="sara")
    other = make_admin("operator", username="omid")
    phone, laptop, someone_else = app.test_client(), app.test_client(), app.test_client()
    sign_in_remembered(phone, "sara")
    sign_in(laptop, "sara")
    sign_in(someone_else, other.username)
    page = laptop.get("/tokens").get_data(as_text=True)
    assert "خروج از همهٔ دستگاه‌ها" in page
    assert 'action="/tokens/sign-out-everywhere"' in page
    # Without the CSRF token nothing happens.
    assert laptop.post("/tokens/sign-out-everywhere").status_code == 400
    assert signed_in(phone)
    response = laptop.post(
        "/tokens/sign-out-everywhere", data={"csrf_token": csrf_token(laptop, "/tokens")}
    )
    assert response.status_code == 302
    assert not signed_in(laptop)
    assert not signed_in(phone)
    assert signed_in(someone_else)


def tokens_live(admin) -> list[ApiToken]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            db.select(ApiToken).where(ApiToken.admin_id == admin.id, ApiToken.revoked_at.is_(None))
        )
    )


def sara_elsewhere(app, make_admin, sign_in_there=sign_in):
    """Operator sara with an API token (returned in plain text), signed in on a device
    of her own (returned too)."""
    sara = make_admin("operator", username="sara")
    _, plaintext = admins.create_token(sara, "bot")
    device = app.test_client()
    sign_in_there(device, "sara")
    return sara, plaintext, device


def post_on_edit_page(boss, admin, action: str, data: dict, **kwargs):
    """Post ``data`` to ``/admins/<id>/<action>``, a form of the admin's edit page."""
    data = data | {"csrf_token": csrf_token(boss, f"/admins/{admin.id}/edit")}
    return boss.post(f"/admins/{admin.id}/{action}", data=data, **kwargs)


def test_password_reset_ends_sessions_and_revokes_tokens(app, make_admin, login_as):
    boss = login_as("superadmin")
    sara, _, device = sara_elsewhere(app, make_admin, sign_in_remembered)
    response = post_on_edit_page(
        boss, sara, "password", {"reset-password": "brand-new-pass-7"}, follow_redirects=True
    )
    assert response.status_code == 200
    assert "توکن" in response.get_data(as_text=True)  # the message says tokens were revoked
    assert not signed_in(device)
    assert tokens_live(sara) == []
    assert signed_in(boss)


def test_role_change_ends_sessions_and_revokes_tokens(app, make_admin, login_as):
    boss = login_as("superadmin")
    sara, plaintext, device = sara_elsewhere(app, make_admin)
    response = post_on_edit_page(
        boss, sara, "edit", {"role": "viewer", "display_name": "Sara"}, follow_redirects=True
    )
    assert response.status_code == 200
    assert "توکن" in response.get_data(as_text=True)
    assert not signed_in(device)
    assert tokens_live(sara) == []
    assert (
        device.get(
            "/api/v1/ai-models/", headers={"Authorization": f"Bearer {plaintext}"}
        ).status_code
        == 401
    )


def test_display_name_edit_keeps_sessions_and_tokens(app, make_admin, login_as):
    boss = login_as("superadmin")
    sara, _, device = sara_elsewhere(app, make_admin)
    post_on_edit_page(boss, sara, "edit", {"role": "operator", "display_name": "Sara K"})
    assert signed_in(device)
    assert len(tokens_live(sara)) == 1


def test_own_password_reset_keeps_this_session(app, login_as):
    boss = login_as("superadmin")
    other_device = app.test_client()
    sign_in(other_device, boss.admin.username)
    response = post_on_edit_page(
        boss, boss.admin, "password", {"reset-password": "brand-new-pass-7"}
    )
    assert response.status_code == 302
    assert signed_in(boss)
    assert not signed_in(other_device)


# --- CSRF secret, next, NUL bytes --------------------------------------------------------------


def test_csrf_secret_changes_at_sign_in(app, make_admin):
    make_admin("operator", username="sara")
    client = app.test_client()
    before = login_form_token(client)
    sign_in(client, "sara")
    refused = client.post("/logout", data={"csrf_token": before})
    assert refused.status_code == 400
    assert signed_in(client)
    assert csrf_token(client, "/tokens") != before


@pytest.mark.parametrize(
    "target",
    ["/history%0d%0aSet-Cookie:x=1", "/history%0aX", "/" + "a" * 2001],
)
def test_next_with_control_characters_or_too_long_goes_home(client, make_admin, target):
    make_admin("operator", username="sara")
    response = post_login(client, "sara", path=f"/login?next={target}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_next_with_a_nul_is_refused_and_signs_nobody_in(client, make_admin):
    make_admin("operator", username="sara")
    response = post_login(client, "sara", path="/login?next=/history%00x")
    assert response.status_code == 400
    assert not signed_in(client)


@pytest.mark.parametrize(
    "username, password", [("sa\x00ra", PASSWORD), ("sara", "test-pass\x00-1234"), ("\x00", "\x00")]
)
def test_nul_bytes_in_the_sign_in_form_are_a_wrong_password(client, make_admin, username, password):
    make_admin("operator", username="sara")
    response = post_login(client, username, password)
    # Refused before the sign-in view sees it (a NUL never reaches a query), in Persian.
    assert response.status_code == 400
    assert "درخواست نویسهٔ NUL دارد که مجاز نیست." in response.get_data(as_text=True)
    assert not signed_in(client)


# --- usernames ignore case -----------------------------------------------------------------------


def test_usernames_are_unique_whatever_the_case(app, make_admin, login_as):
    from webapp.errors import ValidationError
    from webapp.models import Admin

    make_admin("operator", username="sara")
    with pytest.raises(ValidationError) as caught:
        admins.create_admin("Sara", PASSWORD, "viewer")
    assert "بزرگ" in str(caught.value.message)  # says case does not count
    db.session.rollback()
    boss = login_as("superadmin")
    response = boss.post(
        "/admins/new",
        data={
            "username": "SARA",
            "password": PASSWORD,
            "role": "viewer",
            "display_name": "",
            "csrf_token": csrf_token(boss, "/admins/new"),
        },
    )
    assert response.status_code == 400
    assert "این نام کاربری" in response.get_data(as_text=True)
    assert db.session.query(Admin).filter(db.func.lower(Admin.username) == "sara").count() == 1


def test_the_database_refuses_case_duplicates(app, make_admin):
    from sqlalchemy.exc import IntegrityError

    from webapp.models import Admin

    make_admin("operator", username="sara")
    db.session.add(Admin(username="SARA", password_hash="x", role="viewer", display_name=""))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_sign_in_ignores_the_case_of_the_username(app, make_admin):
    make_admin("operator", username="sara")
    client = app.test_client()
    sign_in(client, "SaRa")
    assert signed_in(client)


def test_remember_me_keeps_a_reopened_browser_signed_in(app, make_admin):
    make_admin("operator", username="sara")
    browser = app.test_client()
    sign_in_remembered(browser, "sara")
    reopened = app.test_client()  # the browser closed: only the remember cookie is left
    copy_cookie(browser, reopened, "remember_token")
    for _ in range(3):
        assert signed_in(reopened)
