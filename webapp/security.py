"""Response hardening: a strict Content-Security-Policy (no unsafe-inline, no
unsafe-eval; htmx runs under it with its injected styles and eval off), the usual
security headers, no caching of signed-in pages, and the sign-in rate limits.

Sign-in is limited twice: per client address (``request.remote_addr``, which with
``TRUSTED_PROXIES=N`` is what ProxyFix takes: the Nth address from the right of
X-Forwarded-For, the one the trusted proxy appended, never the client's own leftmost
entries), and per username, lower-cased, counting failures only, in steps that make
the back-off. Unknown usernames are counted like known ones, so the answers never
tell whether an account exists. The counts live in the Redis of CACHE_URL; when that
is down in production, sign-in is closed (503) rather than counted per worker.
"""

from __future__ import annotations

import hashlib
import logging
from functools import partial

from flask import Flask, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import OperationalError

from webapp.extensions import limiter
from webapp.outage import forget_transaction

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: https:",  # the playground shows images a provider returns
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

# (lower-cased name, name, value): _harden compares names without Headers' per-call folding
_DEFAULTS = tuple((name.lower(), name, value) for name, value in HEADERS.items())
HSTS = (
    "strict-transport-security",
    "Strict-Transport-Security",
    "max-age=31536000; includeSubDomains",
)

log = logging.getLogger(__name__)

LOGIN_LIMIT_MESSAGE = _l("Too many sign-in attempts. Wait a minute and try again.")
LOGIN_ENDPOINT = "auth.login"
# Every endpoint with a ``limiter.limit`` of its own; with no default or application
# limit configured, no other request needs the limiter at all.
LIMITED_ENDPOINTS = frozenset({LOGIN_ENDPOINT})


def login_limit() -> str:
    return current_app.config.get("LOGIN_RATE_LIMIT", "10 per minute")


def login_user_limit() -> str:
    return current_app.config.get("LOGIN_USER_RATE_LIMIT", "5 per minute;20 per hour")


def login_username_key() -> str:
    """The limiter key of the username being tried: case-folded, hashed (any bytes)."""
    name = (request.form.get("username") or "").strip().lower()[:64]
    return "login-user:" + hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()


def is_failed_sign_in(response) -> bool:
    return response.status_code == 401


def _shared_store(app: Flask) -> bool:
    return not app.config["RATELIMIT_STORAGE_URI"].startswith("memory")


def login_store_down() -> bool:
    """Production counts sign-in attempts in the shared store; without it each worker
    would count alone (a fraction of the limit each), so sign-in closes instead."""
    app = current_app
    if not app.config.get("RATELIMIT_ENABLED", True) or app.config.get("APP_ENV") != "production":
        return False
    if not _shared_store(app):
        return False
    try:
        return not limiter.storage.check()
    except Exception:  # the check itself failing means the same: no shared count
        log.exception("rate-limit store check failed")
        return True


def _signed_in() -> bool:
    """Whether the answer belongs to someone (then nothing may cache it).

    A request that sends credentials (``Authorization``: the API and the gateway) is
    answered for them whether or not they are valid, without loading anyone. One with
    no session or remember cookie cannot be: the session is not even opened. When the
    database cannot tell (it is away), the answer is treated as signed-in.
    """
    if "Authorization" in request.headers:
        return True
    config = current_app.config
    cookies = request.cookies
    if (
        config["SESSION_COOKIE_NAME"] not in cookies
        and config.get("REMEMBER_COOKIE_NAME", "remember_token") not in cookies
    ):
        return False
    try:
        # Not is_authenticated: that reads the admin's row, which the view's transaction
        # may have expired (one more query at the end of every switch).
        return not getattr(current_user, "is_anonymous", True)
    except OperationalError:
        forget_transaction()
        return True


@limiter.request_filter
def _no_limit_here() -> bool:
    """Flask-Limiter's per-request work is skipped on routes without a limit."""
    config = current_app.config
    if config.get("RATELIMIT_DEFAULT") or config.get("RATELIMIT_APPLICATION"):
        return False
    return request.endpoint not in LIMITED_ENDPOINTS


def default_headers(app: Flask) -> list[tuple[str, str]]:
    """The headers every answer gets (HSTS in production)."""
    production = app.config.get("APP_ENV") == "production"
    return [(name, value) for _low, name, value in (*_DEFAULTS, HSTS)[: None if production else -1]]


def _limiter_where_limited(app: Flask) -> None:
    """Run Flask-Limiter's request hooks only on the endpoints that declare a limit.

    It hooks every request, and even with the request filter above its check resolves
    and filters the declared limits each time: about as much as a bare request costs.
    With no default or application limit only ``LIMITED_ENDPOINTS`` have limits, so
    its three hooks are wrapped, in place (their order among the others kept), to run
    there only.
    """
    config = app.config
    if config.get("RATELIMIT_DEFAULT") or config.get("RATELIMIT_APPLICATION"):
        return

    def ours(hook) -> bool:
        if isinstance(hook, partial):
            return bool(hook.args) and hook.args[0] is limiter
        return getattr(hook, "__self__", None) is limiter

    def where_limited(hook):
        def hook_where_limited(*args):
            if request.endpoint in LIMITED_ENDPOINTS:
                return hook(*args)
            return args[0] if args else None  # after_request: the response, unchanged

        return hook_where_limited

    for hooks in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        funcs = hooks.get(None, [])
        funcs[:] = [where_limited(f) if ours(f) else f for f in funcs]


def init_app(app: Flask) -> None:
    cache_url = app.config.get("CACHE_URL") or ""
    app.config.setdefault(
        "RATELIMIT_STORAGE_URI", cache_url if cache_url.startswith("redis") else "memory://"
    )
    app.config.setdefault("RATELIMIT_KEY_PREFIX", app.config.get("CACHE_KEY_PREFIX", "mcp:"))
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)  # Redis down: don't 500
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    if _shared_store(app):  # a dead or unreachable Redis answers fast, never hangs a worker
        app.config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 1, "socket_timeout": 1}
        )
    limiter.init_app(app)
    _limiter_where_limited(app)
    defaults = (*_DEFAULTS, HSTS) if app.config.get("APP_ENV") == "production" else _DEFAULTS

    @app.before_request
    def _sign_in_closed_without_store():
        if request.endpoint == LOGIN_ENDPOINT and login_store_down():
            return render_template("auth/unavailable.html"), 503, {"Retry-After": "30"}

    @app.after_request
    def _harden(response):
        headers = response.headers
        present = {name.lower() for name, _ in headers}
        headers.extend([(name, value) for low, name, value in defaults if low not in present])
        if request.endpoint != "static" and _signed_in():
            response.headers["Cache-Control"] = "no-store"
        return response
