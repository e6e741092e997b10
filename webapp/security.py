"""Response hardening: a strict Content-Security-Policy (no unsafe-inline, no
unsafe-eval; htmx runs under it with its injected styles and eval off), the usual
security headers, no caching of signed-in pages, and the sign-in rate limit."""

from __future__ import annotations

from flask import Flask, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from webapp.extensions import limiter

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

LOGIN_LIMIT_MESSAGE = _l("Too many sign-in attempts. Wait a minute and try again.")


def login_limit() -> str:
    from flask import current_app

    return current_app.config.get("LOGIN_RATE_LIMIT", "10 per minute")


def init_app(app: Flask) -> None:
    cache_url = app.config.get("CACHE_URL") or ""
    app.config.setdefault(
        "RATELIMIT_STORAGE_URI", cache_url if cache_url.startswith("redis") else "memory://"
    )
    app.config.setdefault("RATELIMIT_KEY_PREFIX", app.config.get("CACHE_KEY_PREFIX", "mcp:"))
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)  # Redis down: don't 500
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)
    production = app.config.get("APP_ENV") == "production"

    @app.after_request
    def _harden(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if production:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        if (
            current_user
            and getattr(current_user, "is_authenticated", False)
            and (request.endpoint != "static")
        ):
            response.headers["Cache-Control"] = "no-store"
        return response
