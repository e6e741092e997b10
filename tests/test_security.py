"""Issue 7 hardening: headers on every page type, the sign-in limit, cookies, probes."""

from __future__ import annotations

import re

import pytest

from tests.support import PASSWORD
from webapp.extensions import db, limiter
from webapp.models import AuditEvent


def assert_hardened(response) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize(
    "path", ["/login", "/healthz", "/no-such-page", "/api/v1/openapi.json", "/api/v1/ai-models/"]
)
def test_headers_on_every_page_type(client, path):
    assert_hardened(client.get(path))


def test_headers_on_signed_in_pages_and_no_caching(login_as):
    c = login_as("superadmin")
    response = c.get("/", follow_redirects=True)
    assert_hardened(response)
    assert response.headers["Cache-Control"] == "no-store"


def login_attempt(client, password="wrong-pass-000"):
    page = client.get("/login").data
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page).group(1).decode()
    return client.post(
        "/login", data={"username": "sara", "password": password, "csrf_token": token}
    )


def test_login_limiter_trips_and_resets(app_factory, make_admin):
    app = app_factory(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    with app.app_context():
        from tests.support import AdminFactory

        AdminFactory()("operator", username="sara")
        client = app.test_client()
        statuses = [login_attempt(client).status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        blocked = login_attempt(client, PASSWORD)
        assert blocked.status_code == 429  # even the right password waits
        assert "تلاش" in blocked.get_data(as_text=True) or blocked.status_code == 429
        limiter.reset()
        assert login_attempt(client, PASSWORD).status_code == 302
        db.session.remove()


def test_sign_ins_are_audited_without_the_password(client, make_admin, db):
    make_admin("operator", username="sara")
    login_attempt(client, "wrong-pass-000")
    login_attempt(client, PASSWORD)
    events = db.session.scalars(
        db.select(AuditEvent)
        .where(AuditEvent.action.in_(["auth.login", "auth.login_failed"]))
        .order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in events] == ["auth.login_failed", "auth.login"]
    assert events[0].target_repr == "sara"
    dump = repr([(e.before, e.after, e.target_repr) for e in events])
    assert "wrong-pass-000" not in dump and PASSWORD not in dump


def test_production_cookies_are_secure(app_factory, make_admin, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    app = app_factory(APP_ENV="production", SECRET_KEY="x" * 40)
    with app.app_context():
        from tests.support import AdminFactory

        AdminFactory()("operator", username="sara")
        client = app.test_client()
        page = client.get("/login", base_url="https://panel.example")
        token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page.data).group(1).decode()
        response = client.post(
            "/login",
            base_url="https://panel.example",
            headers={"Referer": "https://panel.example/login"},
            data={"username": "sara", "password": PASSWORD, "csrf_token": token, "remember": "y"},
        )
        assert response.status_code == 302
        cookies = response.headers.getlist("Set-Cookie")
        session_cookie = next(c for c in cookies if c.startswith("__Host-session="))
        remember_cookie = next(c for c in cookies if c.startswith("__Host-remember_token="))
        for cookie in (session_cookie, remember_cookie):
            assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Strict-Transport-Security" in response.headers
        db.session.remove()


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["database"] == "ok"


def test_readiness_reports_a_dead_cache(app_factory):
    app = app_factory(CACHE_URL="redis://127.0.0.1:1/0")  # nothing listens on port 1
    with app.app_context():
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["checks"]["cache"].startswith("error")
        assert response.get_json()["checks"]["database"] == "ok"
        db.session.remove()
