"""Test helpers: databases on the real servers, factories (and a new model's form fields),
sign-in, CSRF tokens and form posts, a rate-limited app, JSON envelopes, a query log and
the key-leak scan; the models page's switch, gunicorn in another process and calls to it
over real HTTP, the migrations in a process, and the cache's generation trusted for a
while."""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
import redis
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.engine import make_url

from webapp.cache import local_layer
from webapp.db import transactional
from webapp.extensions import cache as _cache
from webapp.extensions import db as _db
from webapp.extensions import limiter
from webapp.models import AuditEvent, ModelCapability
from webapp.operations import activation, admins, catalog
from webapp.queries import lookup

PASSWORD = "test-pass-1234"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"  # the shared server's own database
# Tiny back-off and short timeouts, so retry and timeout tests stay fast.
# The provider's timeout is generous: a test that times a call out sets its own, and on a
# machine busy with four test processes and their browsers the loopback provider (a thread
# of the test's process) has taken over 3 s to answer an image.
FAST_PROVIDER_SETTINGS = {
    "PROVIDER_RETRY_BACKOFF": 0.001,
    "PROVIDER_TIMEOUT": 15.0,
    "PROVIDER_CONNECT_TIMEOUT": 1.0,
    "PROVIDER_RETRY_AFTER_MAX": 1.0,
}
API = "/api/v1"
# The headers htmx sends from the models page.
MODELS_HX = {"HX-Request": "true", "HX-Current-URL": "http://localhost/models"}
ROLES = ("viewer", "operator", "admin", "superadmin")
SHARED_KEY = "sk-shared-0123456789abcdef"
PERSONAL_KEY = "sk-personal-fedcba9876543210"
# A usage point's fields (docs/CONTRACTS.md §10), as the API and the usage query answer.
USAGE_POINT_FIELDS = {
    "bucket_start", "provider", "capability", "model", "calls", "errors", "fallbacks",
    "p50_ms", "p95_ms", "prompt_tokens", "completion_tokens",
}  # fmt: skip
UNCOUNTED = {"uncounted": True}  # the harness's own statements, left out of a QueryLog
TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}
CSRF = re.compile(
    r'name="csrf-token" content="([^"]+)"|name="(?:[\w-]+-)?csrf_token"[^>]*value="([^"]+)"'
)
# A provider key: ``sk-…`` not inside a longer token. URL-safe base64 can hold "sk-" by
# chance: a random API token (``mcp_…``), or a signed value's parts after their dots (a
# CSRF token's 27-character signature starts with "sk-" once in 262,144). Keys are only
# ever shown as their hint.
KEY = re.compile(r"(?<![A-Za-z0-9_.-])sk-[A-Za-z0-9_-]{8,}")
_counter = itertools.count(1)
ROOT = Path(__file__).resolve().parent.parent


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


@contextlib.contextmanager
def app_on_own_database(app_factory, name: str, **config):
    """An app (from ``app_factory``) on a new database ``<name>_<pid>`` of the shared
    PostgreSQL, its tables created; the database is dropped afterwards."""
    url = create_database(PG_URL, f"{name}_{os.getpid()}")
    try:
        app = app_factory(SQLALCHEMY_DATABASE_URI=url, **config)
        with app.app_context():
            _db.create_all()
            _db.session.remove()
        yield app
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()
    finally:
        drop_database(PG_URL, url)


def require_redis(url: str) -> None:
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
    db.session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
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


def shared_key_on(key: str = SHARED_KEY) -> dict:
    """A provider's fields for a shared key, set and allowed: ``make_provider(…, **this)``."""
    return {"shared_api_key": key, "shared_api_enabled": True}


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


def model_fields(name: str, provider: str = "openrouter", **fields) -> dict:
    """A new chat model's fields as the dashboard's form and the API take them, named as
    ModelFactory names a model (``vendor/<name>``, a title); ``fields`` change or add some."""
    return {
        "provider": provider,
        "name": name,
        "model_id": f"vendor/{name}",
        "display_name": name.replace("-", " ").title(),
        "capabilities": ["chat"],
    } | fields


def text(response) -> str:
    return response.get_data(as_text=True)


def csrf_token(client, path: str = "/", **kw) -> str:
    """The CSRF token of the page at ``path`` (its meta tag, or a form's hidden field);
    ``kw`` goes to the GET (``base_url``, …)."""
    match = CSRF.search(text(client.get(path, follow_redirects=True, **kw)))
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def csrf_from(client, path: str = "/tokens") -> str:
    """``csrf_token``, read once per client (the token lasts as long as its session)."""
    if not getattr(client, "csrf", None):
        client.csrf = csrf_token(client, path)
    return client.csrf


def post_form(client, url: str, data: dict | None = None, **kw):
    """A form post carrying a valid CSRF token (the ``post`` fixture)."""
    data = dict(data or {})
    data.setdefault("csrf_token", csrf_from(client))
    return client.post(url, data=data, **kw)


def csrf_header(client) -> dict[str, str]:
    """The ``X-CSRFToken`` header of a signed-in dashboard client."""
    return {"X-CSRFToken": csrf_token(client)}


def choose_on_models_page(client, data: dict, csrf: str = ""):
    """Post ``data`` to the models page's radio switch as htmx does, with its CSRF token."""
    headers = MODELS_HX | {"X-CSRFToken": csrf or csrf_token(client, "/models")}
    return client.post("/models/choose", data=data, headers=headers)


def active_pairs() -> set[tuple[int, str]]:
    """Every active (model, capability) pair, read fresh."""
    _db.session.rollback()
    rows = _db.session.execute(
        sa.select(ModelCapability.model_id, ModelCapability.capability).where(
            ModelCapability.is_active
        )
    )
    return {tuple(row) for row in rows}


def post_login(client, username: str, password: str = PASSWORD, path: str = "/login", **extra):
    """Post the sign-in form, with its CSRF token, to ``path`` (``/login?next=…``)."""
    data = {"username": username, "password": password, "csrf_token": csrf_token(client, "/login")}
    return client.post(path, data=data | extra)


def rate_limited_app(app_factory, settings: dict, role: str):
    """For a fixture to ``yield from``: an app with the rate ``settings``, its context
    pushed, the limiter's counts emptied before and after, and ``sara`` of ``role``."""
    app = app_factory(**settings)
    with app.app_context():
        limiter.reset()
        AdminFactory()(role, username="sara")
        yield app
        limiter.reset()
        _db.session.remove()


def sign_in(client, username: str, password: str = PASSWORD) -> None:
    response = post_login(client, username, password)
    assert response.status_code == 302, response.data[:500]


def signed_in(client) -> bool:
    """Whether the dashboard's home opens for ``client`` (not sent to the sign-in page)."""
    response = client.get("/", follow_redirects=True)
    return response.request.path != "/login"


def field_error(body: str, field_id: str) -> str | None:
    """The text of the field's own error element (``<id>-error``), or None."""
    match = re.search(rf'id="{re.escape(field_id)}-error">([^<]*)<', body)
    return match.group(1) if match else None


def envelope_ok(response, status: int = 200, message: str | None = None) -> dict:
    """Assert a success envelope; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["metaData"]["status"] == "success"
    assert "data" in body
    if message is not None:
        assert body["metaData"]["message"] == message
    return body


def envelope_error(response, status: int, message: str | None = None) -> dict:
    """Assert an error envelope (no data); return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["metaData"]["status"] == "error"
    assert isinstance(body["metaData"]["message"], str) and body["metaData"]["message"]
    assert "data" not in body
    if message is not None:
        assert body["metaData"]["message"] == message
    return body


class QueryLog(list):
    """``with QueryLog(engine) as log:`` … then ``log`` lists every SQL statement run
    (transaction control aside: each request begins its own transaction)."""

    def __init__(self, engine):
        super().__init__()
        self.engine = engine

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        if statement.split(" ", 1)[0].upper() in TRANSACTION_CONTROL:
            return
        if context is None or not context.execution_options.get("uncounted"):
            self.append(statement)

    def __enter__(self) -> QueryLog:
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._record)


def plaintext_keys(texts) -> list[str]:
    """Every provider key (``sk-…``) written out in full in ``texts``."""
    return [m.group(0) for chunk in texts for m in KEY.finditer(chunk)]


def call_api(base: str, method: str, path: str, token: str, body=None, **headers):
    """One JSON API call over real HTTP with a bearer token: (status, headers, raw body),
    an error status included."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"} | headers
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def gunicorn_env(app, port: int, workers: int, **extra: str) -> dict[str, str]:
    """The environment that serves ``app``'s database and cache through gunicorn with the
    project's configuration on 127.0.0.1:``port`` (``extra`` added)."""
    return os.environ | {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "CACHE_URL": app.config["CACHE_URL"],
        "CACHE_KEY_PREFIX": app.config["CACHE_KEY_PREFIX"],
        "FERNET_KEYS": app.config["FERNET_KEYS"],
        "SECRET_KEY": "gunicorn-test-secret",
        "APP_ENV": "development",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "LOG_LEVEL": "warning",
        **extra,
    }


def start_gunicorn(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """``gunicorn *args`` serving the project from its root, its output kept as text (read
    it once it has exited: :func:`exited_output`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def exited_output(server: subprocess.Popen) -> str:
    """What ``server`` wrote, once it has exited (reading sooner would wait for that)."""
    return server.stdout.read() if server.poll() is not None else ""


def wait_until_ready(base: str, server, timeout: float, output) -> None:
    """Wait for ``base``/readyz to answer 200 while the ``server`` process lives;
    ``output()`` says what it wrote when it dies or never gets ready."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        assert server.poll() is None, output()
        assert time.monotonic() < deadline, "gunicorn did not come up:\n" + output()
        time.sleep(0.2)


def replayed_and_final(ids) -> tuple[dict, dict, int]:
    """Each model's active capabilities (sorted) as the audit log replays them from
    "nothing active", then as the database holds them, and how many events replayed."""
    events = _db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.action.in_(["model.activate", "model.deactivate"]))
        .where(AuditEvent.target_id.in_(ids))
        .order_by(AuditEvent.id)
    ).all()
    replayed: dict[int, list[str]] = {mid: [] for mid in ids}
    for event in events:
        replayed[event.target_id] = sorted(event.after["active_capabilities"])
    final: dict[int, list[str]] = {mid: [] for mid in ids}
    for mid, cap in _db.session.execute(
        sa.select(ModelCapability.model_id, ModelCapability.capability).where(
            ModelCapability.is_active, ModelCapability.model_id.in_(ids)
        )
    ):
        final[mid].append(cap)
    return replayed, {mid: sorted(caps) for mid, caps in final.items()}, len(events)


def flask_db(url: str, *args: str) -> subprocess.CompletedProcess:
    """``flask db <args>`` (the migrations) on the database at ``url``, in a new process."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", *args],
        cwd=ROOT,
        env=os.environ | {"DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )


def trust_for_an_hour(monkeypatch) -> None:
    """This process reads the cache generation now and trusts it for an hour (so a loaded
    machine cannot turn a warm call into a generation read); with Redis, once listening."""
    monkeypatch.setattr(lookup, "GENERATION_MAX_AGE", 3600.0)
    _cache.listening()
    invalidations = current_app.extensions.get("cache_invalidations")
    if invalidations is not None:
        assert invalidations.connected.wait(10)
    local_layer().read_at = -math.inf
    lookup.database_generation()


def activate_then_roll_back(model) -> None:
    """Activate ``model`` (or its id) in a transaction that then fails and rolls back."""

    class Boom(Exception):
        pass

    @transactional
    def activate_then_fail():
        activation.activate(model)
        raise Boom

    with pytest.raises(Boom):
        activate_then_fail()


def fuzz_settings(max_examples: int):
    """Hypothesis settings of the fuzz tests: the same examples on every run, no deadline,
    no example database, no health check."""
    from hypothesis import HealthCheck, settings

    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
