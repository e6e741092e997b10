"""Each request pays only for the middleware it uses, and what it skips changes no
answer: /healthz opens no session and touches no limiter, a token API call neither
reads nor writes the browser's session cookie, the sign-in keeps its rate limits,
and every answer keeps its security headers."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support import PASSWORD, QueryLog, post_login, rate_limited_app
from webapp.extensions import db
from webapp.models import Admin
from webapp.security import CSP

LIMITED = dict(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="2 per minute")
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@pytest.fixture
def limited_app(app_factory):
    yield from rate_limited_app(app_factory, LIMITED, "viewer")


def sign_in_attempt(client, password: str = "wrong-pass-000"):
    return post_login(client, "sara", password)


def test_healthz_is_plain_json_with_the_security_headers_and_no_cookie(limited_app):
    response = limited_app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.mimetype == "application/json"
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in response.headers
    assert "Cache-Control" not in response.headers  # nobody signed in: cacheable
    assert not [h for h in RATE_HEADERS if h in response.headers]


def test_security_headers_are_sent_once_each(client):
    response = client.get("/login")
    for name in ("Content-Security-Policy", "X-Frame-Options", "Referrer-Policy"):
        assert len(response.headers.getlist(name)) == 1, name


def test_sign_in_is_still_limited_and_says_so_in_persian(limited_app):
    client = limited_app.test_client()
    first = sign_in_attempt(client)
    assert first.status_code == 401
    assert "X-RateLimit-Limit" in first.headers  # the limiter ran here
    assert sign_in_attempt(client).status_code == 401
    blocked = sign_in_attempt(client, PASSWORD)  # the right password waits too
    assert blocked.status_code == 429
    assert "تلاش" in blocked.get_data(as_text=True)
    for _ in range(5):  # other endpoints are never counted nor refused
        assert client.get("/healthz").status_code == 200
    assert client.get("/login").status_code == 200


def test_token_call_neither_reads_nor_writes_the_session_cookie(
    login_as, token_for, make_provider, make_model
):
    provider = make_provider("openrouter")
    make_model(provider, "gpt-4o", caps=["chat"], active=True)
    browser = login_as("superadmin")
    path = "/api/v1/ai-models/active_model/?provider=openrouter&capability=chat"
    with_token = browser.get(path, headers={"Authorization": f"Bearer {token_for('viewer')}"})
    assert with_token.status_code == 200
    assert "Set-Cookie" not in with_token.headers
    assert with_token.headers["Cache-Control"] == "no-store"
    # a bad token is refused although the cookie is a superadmin's, and the cookie lives on
    refused = browser.get(path, headers={"Authorization": "Bearer not-a-token"})
    assert refused.status_code == 401
    assert refused.get_json()["metaData"]["status"] == "error"
    assert "Set-Cookie" not in refused.headers
    assert browser.get("/models").status_code == 200  # still signed in


def test_a_forged_session_cookie_is_ignored_not_trusted(client):
    client.set_cookie("session", "forged.value.signature")
    response = client.get("/models")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_healthz_head_and_other_methods(client):
    head = client.head("/healthz")
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["Content-Security-Policy"] == CSP
    assert client.get("/healthz?probe=1").get_json() == {"status": "ok"}
    assert client.post("/healthz").status_code in (400, 405)  # not the probe: Flask answers
    assert client.get("/healthz/extra").status_code == 404


def test_a_known_tokens_call_builds_no_row_and_asks_nothing_twice(
    client, token_for, make_provider, make_model
):
    """The cached answer path: no query and no ORM object per call (building and merging
    the token's admin cost a third of the request), the same answer and message every
    time, and a bad query string after good ones still refused in Persian."""
    provider = make_provider("openrouter")
    make_model(provider, "gpt-4o", caps=["chat"], active=True)
    headers = {"Authorization": f"Bearer {token_for('viewer')}"}
    path = "/api/v1/ai-models/active_model/?provider=openrouter&capability=chat"
    first = client.get(path, headers=headers)
    built = []

    def count(target, args, kwargs):
        built.append(target)

    sa.event.listen(Admin, "init", count)
    try:
        with QueryLog(db.engine) as statements:
            answers = [client.get(path, headers=headers) for _ in range(3)]
    finally:
        sa.event.remove(Admin, "init", count)
    assert built == []
    assert statements == []
    assert {a.get_data(as_text=True) for a in answers} == {first.get_data(as_text=True)}
    assert first.get_json()["metaData"]["message"] == "مدل فعال دریافت شد"
    english = client.get(path, headers=headers | {"Accept-Language": "en"})
    assert english.get_json()["metaData"]["message"] == "Active model retrieved"
    assert client.get(path, headers=headers).get_json() == first.get_json()
    bad = client.get(path + "&page=2", headers=headers)
    assert bad.status_code == 400
    assert "page" in bad.get_json()["errors"]
