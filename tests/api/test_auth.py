"""Who may call what: sessions with CSRF, bearer tokens, and every route × role."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support import API, csrf_header, envelope_error, envelope_ok
from webapp.extensions import db
from webapp.models import ROLES, AIModel, ApiToken
from webapp.operations import admins, schedules

UNAUTHORIZED = "احراز هویت لازم است: وارد شوید یا یک توکن Bearer معتبر بفرستید."
FORBIDDEN = "اجازهٔ انجام این کار را ندارید."


def switch_claude(client, group, headers=None):
    """PATCH the group's Claude live: the write every authentication case here tries."""
    return client.patch(
        f"{API}/ai-models/{group['claude'].id}/", json={"is_active": True}, headers=headers or {}
    )


def is_active(model) -> bool:
    db.session.expire_all()
    return db.session.get(AIModel, model.id).is_active


# --- bearer tokens -------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_no_credentials_is_401(client, group, method):
    response = client.open(
        f"{API}/ai-models/{group['claude'].id}/", method=method, json={"is_active": True}
    )
    body = envelope_error(response, 401, UNAUTHORIZED)
    assert "errors" not in body
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert not is_active(group["claude"]) and AIModel.query.count() == 3


@pytest.mark.parametrize(
    "header",
    [
        "Bearer mcp_not-a-real-token",
        "Bearer ",
        "Bearer " + "x" * 500,
        "Basic YWRtaW46cGFzcw==",
        "Token abc",
    ],
)
def test_wrong_token_is_401(client, group, header):
    response = switch_claude(client, group, {"Authorization": header})
    envelope_error(response, 401, UNAUTHORIZED)
    assert not is_active(group["claude"])


def test_revoked_token_is_401(client, group, make_admin):
    admin = make_admin(role="superadmin")
    token, plaintext = admins.create_token(admin)
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert client.get(f"{API}/ai-models/", headers=headers).status_code == 200

    admins.revoke_token(token)

    envelope_error(client.get(f"{API}/ai-models/", headers=headers), 401, UNAUTHORIZED)
    response = switch_claude(client, group, headers)
    envelope_error(response, 401)
    assert not is_active(group["claude"])


def test_token_of_disabled_admin_is_401(client, group, make_admin):
    make_admin(role="superadmin")  # the panel keeps an admin who can manage admins
    admin = make_admin(role="superadmin")
    _, plaintext = admins.create_token(admin)
    admins.update_admin(admin, is_enabled=False)
    response = client.get(f"{API}/ai-models/", headers={"Authorization": f"Bearer {plaintext}"})
    envelope_error(response, 401)


def test_token_use_is_recorded(client, group, token_for):
    plaintext = token_for("viewer")
    client.get(f"{API}/ai-models/", headers={"Authorization": f"Bearer {plaintext}"})
    db.session.expire_all()
    token = db.session.scalar(db.select(ApiToken).where(ApiToken.prefix == plaintext[:8]))
    assert token.last_used_at is not None


def test_viewer_token_cannot_patch(client, group, bearer):
    response = switch_claude(
        client,
        group,
        bearer("viewer"),
    )
    envelope_error(response, 403, FORBIDDEN)
    assert not is_active(group["claude"])
    assert is_active(group["gpt"])


# --- dashboard session -----------------------------------------------------------------------


def test_session_reads_without_csrf(login_as, group):
    client = login_as("viewer")
    envelope_ok(client.get(f"{API}/ai-models/by_provider/?provider=openrouter"))


def test_session_write_without_csrf_header_is_refused(login_as, group):
    client = login_as("operator")
    response = switch_claude(client, group)
    body = envelope_error(response, 400)
    assert "X-CSRFToken" in body["metaData"]["message"]
    assert not is_active(group["claude"])


def test_session_write_with_wrong_csrf_header_is_refused(login_as, group):
    client = login_as("operator")
    response = switch_claude(client, group, {"X-CSRFToken": "forged"})
    envelope_error(response, 400)
    assert not is_active(group["claude"])


def test_session_write_with_csrf_header_is_accepted(login_as, group):
    client = login_as("operator")
    response = switch_claude(
        client,
        group,
        csrf_header(client),
    )
    envelope_ok(response, 200, "مدل به‌روزرسانی شد. 1 مدل دیگر غیرفعال شد")
    assert is_active(group["claude"])


def test_session_viewer_with_csrf_is_403(login_as, group):
    client = login_as("viewer")
    response = client.delete(f"{API}/ai-models/{group['claude'].id}/", headers=csrf_header(client))
    envelope_error(response, 403, FORBIDDEN)
    assert AIModel.query.count() == 3


# --- every route × role ------------------------------------------------------------------------

# (method, path, JSON body, permission, status when allowed); {slug}, {gpt}… are filled
# from a fresh group per role, so a DELETE allowed for one role leaves the next its data.
ROUTES = [
    ("GET", "/ai-models/active_model/?provider={slug}&capability=chat", None, "view_models", 200),
    ("GET", "/ai-models/by_provider/?provider={slug}", None, "view_models", 200),
    ("GET", "/ai-models/?provider={slug}&page=1", None, "view_models", 200),
    (
        "POST",
        "/ai-models/",
        {
            "provider": "{slug}",
            "name": "new-model",
            "model_id": "vendor/new-model",
            "display_name": "New model",
            "capabilities": ["chat"],
        },
        "manage_models",
        201,
    ),
    ("GET", "/ai-models/{gpt}/", None, "view_models", 200),
    ("PATCH", "/ai-models/{claude}/", {"is_active": True}, "manage_models", 200),
    (
        "PUT",
        "/ai-models/{claude}/",
        {
            "name": "claude-3.5",
            "model_id": "vendor/claude-3.5",
            "display_name": "Claude 3.5",
            "capabilities": ["chat"],
        },
        "manage_models",
        200,
    ),
    ("DELETE", "/ai-models/{llama}/", None, "manage_models", 200),
    ("GET", "/ai-models/{claude}/conflicts/?capability=chat", None, "view_models", 200),
    ("GET", "/ai-providers/", None, "view_models", 200),
    ("POST", "/ai-providers/", {"slug": "new-{slug}", "name": "New"}, "manage_providers", 201),
    ("GET", "/ai-providers/{slug}/", None, "view_models", 200),
    ("PATCH", "/ai-providers/{slug}/", {"name": "OR"}, "manage_providers", 200),
    ("PUT", "/ai-providers/{slug}/", {"slug": "{slug}", "name": "OR"}, "manage_providers", 200),
    ("DELETE", "/ai-providers/{slug}/", None, "manage_providers", 200),
    # Traffic policies.
    ("GET", "/schedules/", None, "view_models", 200),
    (
        "POST",
        "/schedules/",
        {
            "provider": "{slug}",
            "capability": "chat",
            "model": None,
            "run_at": "2030-01-01T00:00:00Z",
        },
        "manage_models",
        201,
    ),
    ("GET", "/schedules/{schedule}/", None, "view_models", 200),
    ("DELETE", "/schedules/{schedule}/", None, "manage_models", 200),
    ("GET", "/routing/{slug}/{capability}/", None, "view_models", 200),
    ("PUT", "/routing/{slug}/{capability}/", {"fallbacks": [], "split": []}, "manage_models", 200),
    ("GET", "/usage/?provider={slug}&bucket=day", None, "view_models", 200),
]
CALLERS = ("viewer", "operator", "admin", "superadmin", "service", None)  # None: anonymous


def expected_status(role: str | None, permission: str, allowed: int) -> int:
    if role is None:
        return 401
    return allowed if permission in ROLES[role] else 403


def fill(value, names: dict):
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    ("method", "path", "body", "permission", "allowed"),
    ROUTES,
    ids=[f"{r[0]} {r[1].split('?')[0]}" for r in ROUTES],
)
def test_route_by_role(
    client, bearer, make_provider, make_model, method, path, body, permission, allowed
):
    for role in CALLERS:
        provider = make_provider(f"group-{role or 'anonymous'}")
        gpt = make_model(provider, "gpt-4o", caps=["chat", "code"], active=True)
        claude = make_model(provider, "claude-3.5", caps=["chat"])
        llama = make_model(provider, "llama-3", caps=["chat"])
        names = {"slug": provider.slug, "gpt": gpt.id, "claude": claude.id, "llama": llama.id}
        future = datetime(2030, 1, 1, tzinfo=UTC)
        names |= {
            "capability": "chat",
            "schedule": schedules.create(provider.id, "chat", None, future).id,
        }
        headers = bearer(role) if role else {}
        models_before = AIModel.query.count()

        response = client.open(
            API + fill(path, names), method=method, json=fill(body, names), headers=headers
        )

        status = expected_status(role, permission, allowed)
        if status >= 400:
            envelope_error(response, status)
            db.session.expire_all()
            assert AIModel.query.count() == models_before, role
            assert not is_active(claude), role
        else:
            envelope_ok(response, status)


def test_the_table_covers_every_api_route(app):
    """A new route must join ROUTES, with the permission its view really requires."""
    table = {(m, p.split("?")[0]) for m, p, *_ in ROUTES}
    declared = {}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or rule.endpoint == "api.openapi_document":
            continue
        view = app.view_functions[rule.endpoint]
        path = rule.rule.removeprefix(API)
        for placeholder in rule.arguments:
            path = path.replace(next(part for part in path.split("/") if placeholder in part), "{}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            declared[(method, path)] = view.required_permission
    normalised = {}
    for method, path, _, permission, _ in ROUTES:
        bare = "/".join(
            "{}" if part.startswith("{") else part for part in path.split("?")[0].split("/")
        )
        normalised[(method, bare)] = permission
    assert normalised == declared
    assert len(table) == len(ROUTES)
