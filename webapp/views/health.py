"""Liveness and readiness for the process manager and the load balancer."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from webapp.extensions import cache, csrf, db

bp = Blueprint("health", __name__)
ALIVE = b'{"status":"ok"}\n'  # what jsonify(status="ok") sends, encoded once


@bp.get("/healthz")
def healthz():
    """The process answers."""
    return current_app.response_class(ALIVE, mimetype="application/json")


class Liveness:
    """WSGI middleware answering ``GET``/``HEAD /healthz`` before Flask: a liveness
    probe needs no session, user, locale, limiter or database, so it pays for none of
    them. Same body as the view, with the security headers every answer carries."""

    def __init__(self, wsgi_app, headers: list[tuple[str, str]]):
        self.wsgi_app = wsgi_app
        self.headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(ALIVE))),
            *headers,
        ]

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        if environ.get("PATH_INFO") != "/healthz" or method not in ("GET", "HEAD"):
            return self.wsgi_app(environ, start_response)
        start_response("200 OK", list(self.headers))
        return [b""] if method == "HEAD" else [ALIVE]


@bp.get("/readyz")
def readyz():
    """The database and the cache answer; 503 (and which failed) otherwise."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        db.session.rollback()
        checks["database"] = f"error: {type(exc).__name__}"
    if cache.is_shared:
        checks["cache"] = "ok" if cache.backend.ping() else "error: unreachable"
    else:
        checks["cache"] = "ok (in-process)"
    ready = all(v.startswith("ok") for v in checks.values())
    return jsonify(status="ok" if ready else "error", checks=checks), 200 if ready else 503


csrf.exempt(bp)
