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
