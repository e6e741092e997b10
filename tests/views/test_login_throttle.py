"""Sign-in throttling: per address (the one the trusted proxy saw), per username with
back-off, and closed when the shared limiter store is down in production."""

from __future__ import annotations

import pytest

from tests.support import PASSWORD, AdminFactory, post_login, rate_limited_app
from webapp.extensions import db, limiter
from webapp.models import Admin

LIMITED = dict(
    RATELIMIT_ENABLED=True,
    LOGIN_RATE_LIMIT="100 per minute",
    LOGIN_USER_RATE_LIMIT="3 per minute;5 per hour",
)


def attempt(client, username="sara", password="wrong-pass-000", ip="198.51.100.1", xff=None):
    client.environ_base["REMOTE_ADDR"] = ip
    if xff is not None:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = xff
    return post_login(client, username, password)


@pytest.fixture
def limited_app(app_factory):
    yield from rate_limited_app(app_factory, LIMITED, "operator")


def test_one_username_is_limited_across_addresses_and_cases(limited_app):
    client = limited_app.test_client()
    names = ["sara", "Sara", "SARA", "sArA"]
    statuses = [
        attempt(client, name, ip=f"203.0.113.{i}").status_code for i, name in enumerate(names)
    ]
    assert statuses == [401, 401, 401, 429]
    blocked = attempt(client, "sara", PASSWORD, ip="203.0.113.99")
    assert blocked.status_code == 429  # even the right password waits, from anywhere
    assert "تلاش" in blocked.get_data(as_text=True)
    assert db.session.scalar(db.select(Admin.last_login_at).where(Admin.username == "sara")) is None


def test_unknown_usernames_get_the_same_answers(limited_app):
    client = limited_app.test_client()
    known = [attempt(client, "sara", ip=f"203.0.113.{i}").status_code for i in range(4)]
    unknown = [attempt(client, "ghost", ip=f"203.0.114.{i}").status_code for i in range(4)]
    assert known == unknown == [401, 401, 401, 429]


def test_a_successful_sign_in_does_not_count_against_the_user(limited_app):
    client = limited_app.test_client()
    for i in range(5):
        assert (
            attempt(limited_app.test_client(), "sara", PASSWORD, ip=f"203.0.113.{i}").status_code
            == 302
        )
    assert attempt(client, "sara").status_code == 401


def test_other_users_are_not_slowed_down(limited_app):
    AdminFactory()("operator", username="omid")
    client = limited_app.test_client()
    for i in range(4):
        attempt(client, "sara", ip=f"203.0.113.{i}")
    assert attempt(client, "omid", PASSWORD, ip="203.0.113.50").status_code == 302


def test_the_address_limit_ignores_a_forged_forwarded_for(app_factory):
    app = app_factory(
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT="3 per minute",
        LOGIN_USER_RATE_LIMIT="100 per minute",
        TRUSTED_PROXIES=1,
    )
    with app.app_context():
        limiter.reset()
        client = app.test_client()
        # The client forges the leftmost entries; the proxy appends what it saw.
        statuses = [
            attempt(
                client, f"user{i}", ip="10.0.0.2", xff=f"192.0.2.{i}, 198.51.100.{i}, 203.0.113.5"
            ).status_code
            for i in range(4)
        ]
        assert statuses == [401, 401, 401, 429]
        limiter.reset()
        db.session.remove()


def test_sign_in_fails_closed_when_the_shared_store_is_down(app_factory, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    app = app_factory(
        APP_ENV="production", SECRET_KEY="x" * 40, CACHE_URL="redis://127.0.0.1:1/0", **LIMITED
    )
    with app.app_context():
        AdminFactory()("operator", username="sara")
        client = app.test_client()
        page = client.get("/login", base_url="https://panel.example")
        assert page.status_code == 503
        assert "ورود" in page.get_data(as_text=True) and "در دسترس نیست" in page.get_data(
            as_text=True
        )
        response = client.post(
            "/login",
            base_url="https://panel.example",
            data={"username": "sara", "password": PASSWORD},
        )
        assert response.status_code == 503
        assert client.get_cookie(
            "__Host-session", domain="panel.example"
        ) is None or "_user_id" not in str(
            client.get_cookie("__Host-session", domain="panel.example").value
        )
        assert db.session.scalar(db.select(Admin.last_login_at)) is None
        db.session.remove()


@pytest.mark.redis
def test_sign_in_works_in_production_with_the_store_up(app_factory, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    app = app_factory(
        APP_ENV="production", SECRET_KEY="x" * 40, CACHE_URL="redis://127.0.0.1:6379/15", **LIMITED
    )
    with app.app_context():
        assert app.test_client().get("/login", base_url="https://panel.example").status_code == 200
        db.session.remove()


def test_development_without_redis_keeps_working(app_factory):
    app = app_factory(CACHE_URL="redis://127.0.0.1:1/0", **LIMITED)
    with app.app_context():
        assert app.test_client().get("/login").status_code == 200
        db.session.remove()
