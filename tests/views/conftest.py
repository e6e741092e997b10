"""Helpers for the dashboard page tests: CSRF tokens, posting forms, reading bodies."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from webapp.extensions import db as _db

TOKEN_RE = re.compile(r'name="(?:[\w-]+-)?csrf_token"[^>]*value="([^"]+)"')


def text(response) -> str:
    return response.get_data(as_text=True)


def csrf_from(client, path: str = "/tokens") -> str:
    cached = getattr(client, "csrf", None)
    if cached:
        return cached
    body = text(client.get(path))
    match = TOKEN_RE.search(body)
    assert match, f"no CSRF token on {path}"
    client.csrf = match.group(1)
    return client.csrf


def field_error(body: str, field_id: str) -> str | None:
    """The text of the field's own error element (``<id>-error``), or None."""
    match = re.search(rf'id="{re.escape(field_id)}-error">([^<]*)<', body)
    return match.group(1) if match else None


@pytest.fixture(autouse=True)
def _forget_user_between_requests(app):
    """The ``app`` fixture keeps one app context pushed for the whole test, and Flask reuses
    it for every request, so ``g`` (flask-login's user, flask-wtf's CSRF token) would leak
    from one client's request into another's. Empty it after each request, as a real
    server's fresh context would."""
    from flask import g

    def forget(_exc=None):
        for name in list(g):
            g.pop(name, None)

    app.teardown_request(forget)


@pytest.fixture
def post(app):
    """``post(client, url, data)``: a form post carrying a valid CSRF token."""

    def send(client, url: str, data: dict | None = None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", csrf_from(client))
        return client.post(url, data=data, **kw)

    return send


@pytest.fixture
def fresh(db):
    """Re-read a row from the database (the views commit in their own unit)."""

    def reload(model, ident):
        _db.session.expire_all()
        return _db.session.get(model, ident)

    return reload


@pytest.fixture
def count_queries(db):
    """``with count_queries() as n: ...`` then ``n[0]`` is the number of statements run."""
    from contextlib import contextmanager

    @contextmanager
    def counting():
        seen = [0]

        def before(*_args, **_kw):
            seen[0] += 1

        event.listen(_db.engine, "before_cursor_execute", before)
        try:
            yield seen
        finally:
            event.remove(_db.engine, "before_cursor_execute", before)

    return counting
