"""Who may open and change what on the pages (DESIGN.md §3): roles × routes,
anonymous visitors, and CSRF on every state-changing request."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests import support
from tests.support import csrf_from, text
from webapp.extensions import db
from webapp.models import Admin, AdminProviderSettings, ApiToken, AuditEvent, Provider
from webapp.operations import admins

ROLES = ("viewer", "operator", "admin", "superadmin")
READ = {"viewer": 200, "operator": 200, "admin": 200, "superadmin": 200}
EVERYONE = dict.fromkeys(READ)  # every signed-in admin may (None: allowed, 200/201/302)
PROVIDERS_WRITE = {"viewer": 403, "operator": 403, "admin": None, "superadmin": None}
ADMINS_ONLY = {"viewer": 403, "operator": 403, "admin": 403, "superadmin": None}


@pytest.fixture
def world(make_provider, make_admin):
    """Fresh targets for one visitor: a provider and another admin."""

    def make(tag: str) -> dict:
        return {
            "provider": make_provider(f"prov-{tag}", name=f"Prov {tag}"),
            "other": make_admin("viewer", username=f"someone-{tag}"),
        }

    return make


# (method, url template, form data, expected per role; None = allowed: 200 or a redirect)
ROUTES = [
    ("GET", "/providers", {}, READ),
    ("GET", "/providers/new", {}, PROVIDERS_WRITE),
    ("POST", "/providers/new", {"slug": "new-{r}", "name": "New"}, PROVIDERS_WRITE),
    ("GET", "/providers/{p}/edit", {}, PROVIDERS_WRITE),
    ("POST", "/providers/{p}/edit", {"slug": "prov-{r}", "name": "X"}, PROVIDERS_WRITE),
    ("POST", "/providers/{p}/shared-key", {"key-shared_api_key": "sk-abcdef123"}, PROVIDERS_WRITE),
    ("POST", "/providers/{p}/shared-key/clear", {}, PROVIDERS_WRITE),
    ("POST", "/providers/{p}/disable", {}, PROVIDERS_WRITE),
    ("POST", "/providers/{p}/enable", {}, PROVIDERS_WRITE),
    ("GET", "/providers/{p}/delete", {}, PROVIDERS_WRITE),
    ("POST", "/providers/{p}/delete", {}, PROVIDERS_WRITE),
    ("GET", "/keys", {}, READ),
    ("POST", "/keys/{p}", {"p{p}-personal_api_key": "sk-mine-12345"}, EVERYONE),
    ("POST", "/keys/{p}/clear", {}, EVERYONE),
    ("GET", "/tokens", {}, READ),
    ("POST", "/tokens", {"name": "x"}, EVERYONE),
    ("GET", "/tokens/{t}/revoke", {}, READ),
    ("POST", "/tokens/{t}/revoke", {}, EVERYONE),
    ("GET", "/admins", {}, ADMINS_ONLY),
    ("GET", "/admins/new", {}, ADMINS_ONLY),
    (
        "POST",
        "/admins/new",
        {"username": "fresh-{r}", "role": "viewer", "password": "good-pass-42"},
        ADMINS_ONLY,
    ),
    ("GET", "/admins/{a}/edit", {}, ADMINS_ONLY),
    ("POST", "/admins/{a}/edit", {"display_name": "Y", "role": "operator"}, ADMINS_ONLY),
    ("POST", "/admins/{a}/disable", {}, ADMINS_ONLY),
    ("POST", "/admins/{a}/enable", {}, ADMINS_ONLY),
    ("POST", "/admins/{a}/password", {"reset-password": "other-pass-77"}, ADMINS_ONLY),
    ("GET", "/history", {}, READ),
]
STATE_CHANGING = [r for r in ROUTES if r[0] == "POST"]


def fill(template: str, ids: dict) -> str:
    return template.format(**ids)


def ids_for(world, client, tag: str) -> dict:
    token, _ = admins.create_token(client.admin if client else world["other"], "t")
    return {"p": world["provider"].id, "a": world["other"].id, "t": token.id, "r": tag}


def snapshot() -> tuple:
    """Everything a page could change, to prove a refused request changed nothing."""
    db.session.expire_all()
    return (
        [
            (p.slug, p.name, p.is_enabled, p.shared_api_key_encrypted)
            for p in db.session.scalars(select(Provider).order_by(Provider.id))
        ],
        [
            (a.username, a.role, a.is_enabled, a.password_hash, a.display_name)
            for a in db.session.scalars(select(Admin).order_by(Admin.id))
        ],
        [(t.id, t.revoked_at) for t in db.session.scalars(select(ApiToken).order_by(ApiToken.id))],
        db.session.scalar(select(func.count(AdminProviderSettings.id))),
        db.session.scalar(select(func.count(AuditEvent.id))),
    )


@pytest.mark.parametrize(("method", "url", "data", "expected"), ROUTES)
def test_roles_by_routes(login_as, post, world, method, url, data, expected):
    """Each route, for each role, on targets of that role's own (so an allowed change by
    one role never changes what the next one is asked)."""
    for role in ROLES:
        client = login_as(role)
        ids = ids_for(world(role), client, role)
        target = fill(url, ids)
        form = {fill(k, ids): fill(v, ids) for k, v in data.items()}
        want = expected[role]
        before = snapshot() if want == 403 else None

        response = client.get(target) if method == "GET" else post(client, target, form)

        where = (role, method, target, response.status_code)
        if want is None:
            allowed = (201, 302) if method == "POST" else (200,)  # a POST did the thing
            assert response.status_code in allowed, where
        else:
            assert response.status_code == want, where
        if want == 403:
            assert "اجازه" in text(response) or "دسترسی" in text(response), where
            assert snapshot() == before, where


@pytest.mark.parametrize(("method", "url", "data", "expected"), ROUTES)
def test_anonymous_goes_to_login(client, world, method, url, data, expected):
    ids = ids_for(world("anon"), None, "anon")
    target = fill(url, ids)
    if method == "GET":
        response = client.get(target)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
    else:
        before = snapshot()
        response = client.post(target, data={fill(k, ids): fill(v, ids) for k, v in data.items()})
        # Without a session there is no CSRF token either: refused one way or the other.
        assert response.status_code in (302, 400)
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/login")
        assert snapshot() == before


@pytest.mark.parametrize(("method", "url", "data", "expected"), STATE_CHANGING)
def test_every_change_needs_the_csrf_token(login_as, world, method, url, data, expected):
    client = login_as("superadmin")
    ids = ids_for(world("csrf"), client, "csrf")
    client.get("/tokens")  # the session has a CSRF secret; the form just lacks the token
    before = snapshot()

    response = client.post(
        fill(url, ids), data={fill(k, ids): fill(v, ids) for k, v in data.items()}
    )

    assert response.status_code == 400
    assert snapshot() == before
    bad = client.post(
        fill(url, ids),
        data={"csrf_token": "forged", **{fill(k, ids): fill(v, ids) for k, v in data.items()}},
    )
    assert bad.status_code == 400
    assert snapshot() == before


def test_the_views_declare_their_permission(app):
    expected = {
        "providers.index": "view_models",
        "providers.create": "manage_providers",
        "providers.edit": "manage_providers",
        "providers.delete": "manage_providers",
        "keys.index": "view_models",
        "tokens.index": "view_models",
        "admins.index": "manage_admins",
        "admins.reset_password": "manage_admins",
        "history.index": "view_models",
    }
    for endpoint, permission in expected.items():
        assert app.view_functions[endpoint].required_permission == permission


# --- the service role: programs, tokens only --------------------------------------------


def test_a_service_account_cannot_sign_in(app, client, make_admin):
    bot = make_admin("service", username="platform-bot")
    page = client.get("/login")
    csrf = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data).group(1)
    events_before = db.session.scalar(select(func.count(AuditEvent.id)))

    response = client.post(
        "/login",
        data={"username": bot.username, "password": support.PASSWORD, "csrf_token": csrf},
    )

    assert response.status_code == 403
    assert "حساب سرویس نمی‌تواند وارد داشبورد شود" in text(response)
    assert client.get("/tokens").status_code == 302  # still signed out
    db.session.expire_all()
    assert db.session.get(Admin, bot.id).last_login_at is None
    failed = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert failed.action == "auth.login_failed"
    assert db.session.scalar(select(func.count(AuditEvent.id))) == events_before + 1


@pytest.mark.parametrize(("method", "url", "data", "expected"), ROUTES)
def test_a_session_turned_service_is_refused_everywhere(
    login_as, post, world, method, url, data, expected
):
    """An admin signed in, then made a service account: the role change ends the session,
    so every page sends them to sign in (where a service account is refused) and nothing
    changes."""
    client = login_as("viewer")
    ids = ids_for(world("svc"), client, "svc")
    token = csrf_from(client)  # taken while still signed in
    admins.update_admin(client.admin, role="service", actor="test")
    target = fill(url, ids)
    form = {fill(k, ids): fill(v, ids) for k, v in data.items()} | {"csrf_token": token}
    before = snapshot()

    response = client.get(target) if method == "GET" else post(client, target, form)

    assert response.status_code == 302, (method, target)
    assert "/login" in response.headers["Location"], (method, target)
    assert snapshot() == before
