"""Liveness and readiness for the process manager and the load balancer.

``/healthz`` says only that the process answers (nothing it depends on is asked);
``/readyz`` asks the database and the cache and, when one does not answer, says which
in ``down`` with a 503, so the balancer and the operator see what is away.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from webapp.extensions import cache, csrf, db
from webapp.outage import first_line, forget_transaction, state

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
    """``{"status", "down": [...], "checks": {"database", "cache"}}``: 200 when both
    answer, else 503 with the ones that did not in ``down``."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except DBAPIError as exc:
        state.went_down(exc)
        forget_transaction()
        checks["database"] = f"error: {first_line(exc)}"
    if cache.is_shared:
        checks["cache"] = "ok" if cache.backend.ping() else "error: unreachable"
    else:
        checks["cache"] = "ok (in-process)"
    down = [name for name, result in checks.items() if not result.startswith("ok")]
    body = jsonify(status="error" if down else "ok", down=down, checks=checks)
    return body, 503 if down else 200


csrf.exempt(bp)
