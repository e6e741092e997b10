"""Signing in and out; who may reach what (DESIGN.md §3)."""

from __future__ import annotations

import re

import pytest

from tests.support import PASSWORD, post_login, sign_in, signed_in
from webapp.config import Config
from webapp.operations import admins


def test_anonymous_page_goes_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_sign_in_and_out(client, make_admin):
    make_admin("operator", username="sara")
    assert not signed_in(client)
    response = post_login(client, "sara", PASSWORD)
    assert response.status_code == 302
    assert signed_in(client)
    assert client.get("/login").status_code == 302  # already signed in
    page = client.get("/", follow_redirects=True).data
    token = re.search(rb'name="csrf-token" content="([^"]+)"', page).group(1).decode()
    client.post("/logout", data={"csrf_token": token})
    assert not signed_in(client)


@pytest.mark.parametrize("username, password", [("sara", "wrong-pass-1"), ("nobody", PASSWORD)])
def test_wrong_credentials_say_nothing_about_which_part(client, make_admin, username, password):
    make_admin("operator", username="sara")
    response = post_login(client, username, password)
    assert response.status_code == 401
    assert "نام کاربری یا گذرواژه درست نیست." in response.get_data(as_text=True)


def test_disabled_admin_is_refused(client, make_admin):
    admin = make_admin("operator", username="sara")
    admins.update_admin(admin, is_enabled=False)
    response = post_login(client, "sara", PASSWORD)
    assert response.status_code == 401
    assert not signed_in(client)


def test_disabling_or_new_password_ends_existing_sessions(app, make_admin):
    admin = make_admin("operator", username="sara")
    c = app.test_client()
    sign_in(c, "sara")
    assert signed_in(c)
    admins.update_admin(admin, password="another-pass-9")
    assert not signed_in(c)
    sign_in(c, "sara", "another-pass-9")
    assert signed_in(c)
    admins.update_admin(admin, is_enabled=False)
    assert not signed_in(c)


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil", "javascript:alert(1)"]
)
def test_next_redirects_only_to_local_paths(client, make_admin, target):
    make_admin("operator", username="sara")
    response = post_login(client, "sara", path=f"/login?next={target}")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "evil" not in location and not location.startswith("javascript")


def test_next_local_path_is_followed(client, make_admin):
    make_admin("operator", username="sara")
    response = post_login(client, "sara", path="/login?next=/history?page=2")
    assert response.headers["Location"] == "/history?page=2"


def test_login_without_csrf_token_is_refused(client, make_admin):
    make_admin("operator", username="sara")
    response = client.post("/login", data={"username": "sara", "password": PASSWORD})
    assert response.status_code == 400
    assert not signed_in(client)


def test_production_refuses_to_start_without_secrets(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("FERNET_KEYS", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY and FERNET_KEYS"):
        Config.from_env().check()
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    with pytest.raises(RuntimeError, match="FERNET_KEYS"):
        Config.from_env().check()
    monkeypatch.setenv("FERNET_KEYS", "Q2L6hSfLuZ-0o-0n7LhGmSTaAlvUuLk1jNnfrbxUzGk=")
    cfg = Config.from_env()
    cfg.check()
    assert cfg.SESSION_COOKIE_SECURE and cfg.REMEMBER_COOKIE_SECURE


def test_plain_postgresql_url_uses_psycopg3(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h:5432/d")
    assert Config.from_env().SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u@h:5432/d"
    monkeypatch.delenv("DATABASE_URL")
    assert Config.from_env().SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")
