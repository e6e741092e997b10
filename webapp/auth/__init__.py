"""Who is asking, and may they: session logins, bearer tokens, permission checks.

Pages: an anonymous request is sent to the login page; a denied one gets 403.
API (``/api/``): anonymous gets 401, denied gets 403; the API blueprint renders
both in its JSON envelope. CSRF is checked for every unsafe request except an
API request authenticated by a bearer token (no cookie, so no CSRF risk).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Flask, abort, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from webapp.extensions import csrf, db, login_manager
from webapp.models import Admin

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


@login_manager.user_loader
def load_user(user_id: str) -> Admin | None:
    ident, _, version = user_id.partition(":")
    if not ident.isdigit() or not version.isdigit():
        return None
    admin = db.session.get(Admin, int(ident))
    if admin is None or not admin.is_enabled or admin.session_version != int(version):
        return None
    return admin


@login_manager.request_loader
def load_user_from_token(req) -> Admin | None:
    if not req.path.startswith("/api/"):
        return None
    token = bearer_token()
    if token is None:
        return None
    from webapp.services.admins import admin_for_token

    return admin_for_token(token)


@login_manager.unauthorized_handler
def unauthorized():
    if is_api_request():
        abort(401)
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def permission_required(permission: str) -> Callable:
    """Let the view run only for a signed-in, enabled admin holding ``permission``."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.can(permission):
                abort(403, description=str(_l("You do not have permission for this action.")))
            return view(*args, **kwargs)

        wrapper.required_permission = permission  # read by the roles × routes tests
        return wrapper

    return decorator


def find_admin(username: str) -> Admin | None:
    return db.session.scalar(select(Admin).where(Admin.username == username))


def init_app(app: Flask) -> None:
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @app.before_request
    def _check_csrf():
        if request.method in SAFE_METHODS:
            return
        if is_api_request() and bearer_token() is not None:
            return
        if request.blueprint == "gateway":  # /v1 takes tokens only, never a cookie
            return
        csrf.protect()
