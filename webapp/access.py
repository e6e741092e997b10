"""Who is asking, and may they: session logins, bearer tokens, permission checks.

Pages: an anonymous request is sent to the login page; a denied one gets 403.
API (``/api/``): anonymous gets 401, denied gets 403; the API blueprint renders
both in its JSON envelope. An API request with an ``Authorization`` header is
authenticated by that token alone: the session cookie is ignored and a bad token is
401, so such a request carries no cookie's authority and needs no CSRF token. Every
other unsafe request is CSRF-checked.

Session and remember-me cookies carry the key of a server-side ``login_session``
row (``operations.sessions``); deleting the row signs that browser out everywhere
its cookies were copied.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Flask, abort, g, has_request_context, redirect, request, session, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_babel import lazy_gettext as _l
from flask_login import current_user, user_loaded_from_cookie

from webapp.extensions import csrf, login_manager
from webapp.models import Admin
from webapp.operations import sessions
from webapp.operations.admins import admin_for_token

WTF_HOOK = "CSRFProtect.init_app.<locals>.csrf_protect"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def token_only() -> bool:
    """An API request that names its credentials: only the token may authenticate it."""
    return is_api_request() and "Authorization" in request.headers


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() in ("bearer", "token") and token.strip():  # Token: as DRF clients send
        return token.strip()
    return None


class _Unread(SecureCookieSession):
    """The session of a request that names its token: empty, and never written back."""


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, opened only when there is one to open.

    Without the session cookie a request gets a new empty session without building the
    signer (most of what opening costs); an API request that names its token, and every
    gateway request (``/v1``: tokens only), gets an empty one that is never saved,
    whatever cookie it carries, since the token alone speaks for it. An empty session
    nobody changed is not saved either.
    """

    def open_session(self, app, request):
        if not app.secret_key:
            return None
        if request.path.startswith("/v1/") or (
            request.path.startswith("/api/") and "Authorization" in request.headers
        ):
            return _Unread()
        if not request.cookies.get(app.config["SESSION_COOKIE_NAME"]):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response) -> None:
        if isinstance(session, _Unread):
            return
        if not session and not session.modified:  # what the parent does, minus its setup
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


@login_manager.user_loader
def load_user(user_id: str) -> Admin | None:
    """From the session or remember-me cookie: the key of a live login_session."""
    if has_request_context() and token_only():
        return None
    return sessions.load(user_id)


@login_manager.request_loader
def load_user_from_token(req) -> Admin | None:
    if not req.path.startswith("/api/"):
        return None
    token = bearer_token()
    if token is None:
        return None
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
            g.setdefault("granted", set()).add(permission)
            return view(*args, **kwargs)

        wrapper.required_permission = permission  # read by the roles × routes tests
        return wrapper

    return decorator


def may(permission: str) -> bool:
    """Whether the signed-in admin holds ``permission``; a permission the request has
    already proved (its route asked for it) costs nothing, not even a re-read of the
    admin after the view's transaction expired it."""
    if permission in g.get("granted", ()):
        return True
    return current_user.is_authenticated and current_user.can(permission)


def init_app(app: Flask) -> None:
    app.session_interface = CookieSessions()
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    # Flask-WTF's own hook checks nothing with WTF_CSRF_CHECK_DEFAULT off (_check_csrf
    # below does the checking): drop it rather than call it on every request.
    before = app.before_request_funcs.get(None, [])
    before[:] = [f for f in before if getattr(f, "__qualname__", "") != WTF_HOOK]
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @user_loaded_from_cookie.connect_via(app)
    def _bind_restored_session(sender, user, **extra):
        # flask-login restores the session from the remember cookie without the
        # identifier "strong" protection checks, so the next request would throw the
        # session (and the cookie) away: remember-me would last one request.
        session["_id"] = login_manager._session_identifier_generator()

    @app.before_request
    def _check_csrf():
        if token_only():
            # The token alone speaks for the request: set the user straight away rather
            # than through flask-login's loader chain (session protection, the session,
            # the remember cookie: all empty here), a third of a token request's cost.
            admin = load_user_from_token(request)
            if admin is None:
                abort(401)
            login_manager._update_request_context_with_user(admin)
            return  # no cookie speaks for this request: nothing to forge
        if request.method in SAFE_METHODS:
            return
        if request.blueprint == "gateway":  # /v1 takes tokens only, never a cookie
            return
        csrf.protect()
