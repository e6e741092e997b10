"""Liveness and readiness for the process manager and the load balancer.

``/healthz`` says only that the process answers (nothing it depends on is asked);
``/readyz`` asks the database and the cache and, when one does not answer, says which
in ``down`` with a 503, so the balancer and the operator see what is away.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from webapp.extensions import cache, csrf, db
from webapp.outage import first_line, forget_transaction, state

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers."""
    return jsonify(status="ok")


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
