"""Test helpers: databases on the real servers, factories, sign-in."""

from __future__ import annotations

import itertools
import re

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from webapp.operations import activation, admins, catalog

PASSWORD = "test-pass-1234"
_counter = itertools.count(1)


def _service_down(what: str, hint: str) -> None:
    pytest.fail(f"{what} is not reachable; start it ({hint}) — tests never skip it", pytrace=False)


def _admin_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def create_database(url: str, name: str) -> str:
    """Create database ``name`` on the server of ``url``; returns its URL."""
    plain = _admin_url(url)
    try:
        with psycopg.connect(plain, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        _service_down(f"PostgreSQL at {plain} ({exc})", "bash .ci/services")
    return make_url(plain).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str, own_url: str) -> None:
    name = make_url(own_url).database
    with psycopg.connect(_admin_url(url), autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def require_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        _service_down(f"Redis at {url} ({exc})", "bash .ci/services")


def reset_schema(db, url: str) -> None:
    """Fresh tables for a test: create on SQLite (a new file); truncate on PostgreSQL."""
    if url.startswith("sqlite"):
        db.create_all()
        return
    db.create_all()
    tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.session.commit()
    for table in db.metadata.sorted_tables:  # a test may have dropped one on purpose
        for index in table.indexes:
            index.create(db.engine, checkfirst=True)


class AdminFactory:
    def __call__(
        self, role: str = "superadmin", username: str | None = None, password: str = PASSWORD
    ):
        username = username or f"{role}{next(_counter)}"
        return admins.create_admin(username, password, role, actor="test")


class ProviderFactory:
    def __call__(self, slug: str | None = None, **fields):
        slug = slug or f"provider-{next(_counter)}"
        data = {"slug": slug, "name": fields.pop("name", slug.title())} | fields
        return catalog.create_provider(data, actor="test")


class ModelFactory:
    def __init__(self, make_provider):
        self.make_provider = make_provider

    def __call__(
        self,
        provider=None,
        name: str | None = None,
        caps=("chat",),
        active: bool | list[str] = False,
        **fields,
    ):
        provider = provider or self.make_provider()
        name = name or f"model-{next(_counter)}"
        data = {
            "name": name,
            "model_id": fields.pop("model_id", f"vendor/{name}"),
            "display_name": fields.pop("display_name", name.replace("-", " ").title()),
            "capabilities": list(caps),
        } | fields
        model, _ = catalog.create_model(provider, data, actor="test")
        if active:
            activation.activate(model, None if active is True else list(active), actor="test")
        return model


def sign_in(client, username: str, password: str = PASSWORD) -> None:
    page = client.get("/login")
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data)
    if token is None:
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page.data)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1).decode()},
    )
    assert response.status_code == 302, response.data[:500]


def csrf_token(client, path: str = "/") -> str:
    page = client.get(path)
    match = re.search(rb'name="csrf-token" content="([^"]+)"', page.data) or re.search(
        rb'name="csrf_token"[^>]*value="([^"]+)"', page.data
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1).decode()
