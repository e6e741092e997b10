"""Sign-in sessions kept on the server (``login_session``).

A browser's session cookie and remember-me cookie carry a random key; the row keyed
by its SHA-256 says whose it is and until when. Deleting the row ends every copy of
those cookies: that is what signing out, "sign out everywhere", a password reset, a
role change and disabling an admin do.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select, update

from webapp.db import transactional
from webapp.extensions import db
from webapp.models import Admin, LoginSession, utcnow

KEY_BYTES = 32
MAX_KEY_LENGTH = 100


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _lifetime(remember: bool) -> timedelta:
    if remember:
        return current_app.config["REMEMBER_COOKIE_DURATION"]
    return timedelta(seconds=current_app.config["PERMANENT_SESSION_LIFETIME"])


@transactional
def start(admin: Admin, *, remember: bool = False) -> str:
    """A new session for ``admin``; returns its key (also set as ``admin.login_key``)."""
    now = utcnow()
    # The admin's dead rows go now: cheaper than a sweeper, and bounded by sign-ins.
    db.session.execute(
        delete(LoginSession).where(
            LoginSession.admin_id == admin.id, LoginSession.expires_at <= now
        )
    )
    key = secrets.token_urlsafe(KEY_BYTES)
    db.session.add(
        LoginSession(
            id=_hash(key),
            admin_id=admin.id,
            remember=remember,
            created_at=now,
            expires_at=now + _lifetime(remember),
        )
    )
    admin.login_key = key
    return key


def load(key: str) -> Admin | None:
    """The enabled admin of a live session, or None: one primary-key lookup."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    row = db.session.execute(
        select(Admin, LoginSession.expires_at, LoginSession.remember)
        .join(LoginSession, LoginSession.admin_id == Admin.id)
        .where(LoginSession.id == _hash(key))
    ).first()
    if row is None:
        return None
    admin, expires_at, remember = row
    now = utcnow()
    if expires_at <= now or not admin.is_enabled:
        return None
    if not remember:
        # Sliding: a session in use lives on; at most one write per half lifetime.
        lifetime = _lifetime(False)
        if expires_at - now < lifetime / 2:
            _extend(_hash(key), now + lifetime)
            admin = db.session.get(Admin, admin.id)
    admin.login_key = key
    return admin


@transactional
def _extend(session_id: str, until) -> None:
    db.session.execute(
        update(LoginSession).where(LoginSession.id == session_id).values(expires_at=until)
    )


@transactional
def end(key: str | None) -> None:
    """End one session (this browser's sign-out)."""
    if key and len(key) <= MAX_KEY_LENGTH:
        db.session.execute(delete(LoginSession).where(LoginSession.id == _hash(key)))


@transactional
def end_all(admin_id: int) -> int:
    """End every session of an admin, on every device; returns how many there were."""
    result = db.session.execute(delete(LoginSession).where(LoginSession.admin_id == admin_id))
    return result.rowcount or 0
