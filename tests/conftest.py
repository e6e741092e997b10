"""The suite's fixtures: a fresh application and database per test, factories, logins, API
tokens and one live server. The loopback provider is in tests/ai/fixtures.py, the gateway's
SDK client in tests/gateway/fixtures.py and the browser in tests/e2e/browser.py.

The database is SQLite (a new file per test) unless ``TEST_DATABASE_URL`` points
at PostgreSQL; the cache is in-process unless ``TEST_CACHE_URL`` points at Redis.
Tests marked ``postgres`` or ``redis`` always use the real servers on
127.0.0.1 and fail, never skip, when those are down (``.ci/services`` starts them).

A test body runs in its own app context (the ``app`` fixture), as a script would; each
request of a test client runs in a fresh one, as on a real server, so nothing on ``g`` or
in a database session passes between the test and its requests, or from one request to
the next.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import shutil
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import has_app_context
from flask.testing import FlaskClient
from werkzeug.serving import make_server

pytest_plugins = [
    "tests.ai.fixtures",
    "tests.gateway.fixtures",
    "tests.e2e.browser",
    "tests.servers",
]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import support  # noqa: E402
from tests.ai.fake_provider import closed_port  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.config import Config  # noqa: E402
from webapp.extensions import cache as cache_ext  # noqa: E402
from webapp.extensions import db as _db  # noqa: E402
from webapp.metering import current_meter  # noqa: E402
from webapp.operations import admins  # noqa: E402

FERNET_KEYS = (
    "Q2L6hSfLuZ-0o-0n7LhGmSTaAlvUuLk1jNnfrbxUzGk=,qCXs8rdZcmU1J9Gc9dHhhPpoK3l0Fv1qoK6l3y2pZ2Y="
)
# What `make test-fast` leaves out (-m "not e2e and not slow and not fuzz"), by path.
MARKS = {
    "tests/e2e/": "e2e",
    "tests/api/test_fuzz.py": "fuzz",
    "tests/test_multiprocess.py": "slow",
}


def pytest_sessionstart(session) -> None:
    """Compile the catalogue so every test sees the real Persian text (once, not per worker)."""
    if hasattr(session.config, "workerinput"):
        return
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "-q", "compile", "-d", "translations"],
        cwd=ROOT,
        check=False,
    )


class Leakage:
    """What this process's apps answered and logged during the current test."""

    bodies: list[str] = []
    log_lines: list[str] = []


class _CaptureLog(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # never break a test over logging
            Leakage.log_lines.append(self.format(record))


def pytest_configure(config) -> None:
    handler = _CaptureLog(level=logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(handler)


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by these marks
def pytest_collection_modifyitems(session, config, items) -> None:
    for item in items:
        for prefix, mark in MARKS.items():
            if item.nodeid.startswith(prefix):
                item.add_marker(mark)


@pytest.fixture(autouse=True)
def no_plaintext_key():
    """No provider key in any page, API answer or log line of any test: a key is only ever
    shown back as its hint (``…a1b2``)."""
    Leakage.bodies.clear()
    Leakage.log_lines.clear()
    yield
    leaks = support.plaintext_keys(Leakage.bodies + Leakage.log_lines)
    assert leaks == [], f"plaintext keys leaked: {sorted(set(leaks))[:10]}"


def run_id() -> str:
    """Unique per test process, so two suites running at once never share data."""
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}_{os.getpid()}"


@pytest.fixture(scope="session")
def database_url() -> str | None:
    """A PostgreSQL database of this process's own when TEST_DATABASE_URL asks for it."""
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not url or url.startswith("sqlite"):
        yield None
        return
    own = support.create_database(url, f"mcp_test_{run_id()}")
    yield own
    support.drop_database(url, own)


@pytest.fixture(scope="session")
def cache_url() -> str:
    url = os.environ.get("TEST_CACHE_URL", "").strip()
    if url:
        support.require_redis(url)
    return url


def make_config(db_url: str, cache_url: str = "", **overrides) -> Config:
    """Test settings; outbound calls get tiny back-off and short timeouts."""
    settings = support.FAST_PROVIDER_SETTINGS | {
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": db_url,
        "FERNET_KEYS": FERNET_KEYS,
        "CACHE_URL": cache_url,
        "CACHE_KEY_PREFIX": f"mcp-test-{run_id()}:",
        "TESTING": True,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "RATELIMIT_ENABLED": False,
        "GATEWAY_TIMEOUT": 3.0,
    }
    return Config.from_env(**(settings | overrides))


class RequestClient(FlaskClient):
    """Runs each request in a fresh context, as a server's thread would. The test's own
    session first commits what the test wrote (so the request sees those rows and meets
    no lock of the test's), then re-reads what the request changed; a row the request
    deleted is let go with its primary key, so the test can still name it."""

    def open(self, *args, **kwargs):
        if not has_app_context():
            return contextvars.Context().run(super().open, *args, **kwargs)
        session = _db.session()
        _commit_keeping_rows(session)
        response = contextvars.Context().run(super().open, *args, **kwargs)
        for row in _rows_gone(session):
            if row in session:  # not already let go along a relationship
                session.expunge(row)
        _commit_keeping_rows(session)
        for row in list(session.identity_map.values()):
            mapper = sa.inspect(row).mapper
            keys = {mapper.get_property_by_column(column).key for column in mapper.primary_key}
            session.expire(row, [attr.key for attr in mapper.attrs if attr.key not in keys])
        return response


def _commit_keeping_rows(session) -> None:
    """Commit and end the transaction without expiring what the session holds."""
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def _rows_gone(session) -> list:
    """The rows of the session's identity map no longer in the database."""
    by_class = defaultdict(list)
    for (cls, ident, _), row in list(session.identity_map.items()):
        by_class[cls].append((ident, row))
    gone = []
    for cls, rows in by_class.items():
        keys = sa.inspect(cls).primary_key
        query = sa.select(*keys).where(sa.tuple_(*keys).in_([ident for ident, _ in rows]))
        present = {tuple(r) for r in session.execute(query, execution_options=support.UNCOUNTED)}
        gone += [row for ident, row in rows if tuple(ident) not in present]
    return gone


def _keep_body(response):
    if not response.direct_passthrough and response.mimetype in (
        "text/html",
        "application/json",
        "text/plain",
    ):
        Leakage.bodies.append(response.get_data(as_text=True)[:200_000])
    return response


@pytest.fixture(scope="session")
def sqlite_schema(tmp_path_factory) -> Path:
    """An empty SQLite database with the schema, made once per process: a test's own file
    starts as a copy of it (creating the tables for every test took as long as the rest of
    its setup)."""
    path = tmp_path_factory.mktemp("schema") / "schema.db"
    app = create_app(make_config(f"sqlite:///{path}"))
    with app.app_context():
        _db.create_all()
        _db.session.remove()
        _db.engine.dispose()
    return path


@pytest.fixture
def app_factory(tmp_path, database_url, cache_url, sqlite_schema):
    """Build an app on this test's own database: on SQLite a copy of the empty schema, on
    PostgreSQL the run's database with its tables emptied."""
    apps = []
    own_file = tmp_path / "test.db"

    def build(**overrides):
        url = database_url or f"sqlite:///{own_file}"
        copied = not (
            apps or database_url or "SQLALCHEMY_DATABASE_URI" in overrides or own_file.exists()
        )
        if copied:
            shutil.copyfile(sqlite_schema, own_file)
        app = create_app(make_config(url, cache_url, **overrides))
        app.test_client_class = RequestClient
        app.after_request(_keep_body)
        if not apps:
            with app.app_context():
                if not copied:
                    support.reset_schema(_db, url)
                with contextlib.suppress(Exception):  # a test may point at a dead cache
                    cache_ext.clear()
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            # Rows still buffered (or recorded late by a server thread) must not land in
            # the next test's database (one PostgreSQL database serves the whole run).
            current_meter().close()
            _db.session.remove()
            _db.engine.dispose()


@pytest.fixture
def app(app_factory):
    """The test's app, with the test body's own app context pushed."""
    app = app_factory()
    with app.app_context():
        yield app


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_admin(app):
    return support.AdminFactory()


@pytest.fixture
def make_provider(app):
    return support.ProviderFactory()


@pytest.fixture
def make_model(app, make_provider):
    return support.ModelFactory(make_provider)


@pytest.fixture
def login_as(app, make_admin):
    """``login_as("operator")`` → a test client signed in as a new admin of that role."""

    def login(role: str = "superadmin", username: str | None = None):
        admin = make_admin(role=role, username=username)
        c = app.test_client()
        support.sign_in(c, admin.username)
        c.admin = admin
        return c

    return login


@pytest.fixture
def post(app):
    """``post(client, url, data)``: a form post carrying a valid CSRF token."""
    return support.post_form


@pytest.fixture
def fresh(db):
    """Re-read a row from the database (the views commit in their own unit)."""

    def reload(model, ident):
        _db.session.expire_all()
        return _db.session.get(model, ident)

    return reload


@pytest.fixture
def count_queries(db):
    """``with count_queries() as log: ...`` then ``log`` lists the statements run."""
    return lambda: support.QueryLog(_db.engine)


@pytest.fixture
def token_for(make_admin):
    """``token_for("viewer")`` → the plaintext bearer token of a new admin of that role."""

    def make(role: str = "superadmin") -> str:
        admin = make_admin(role=role)
        _, plaintext = admins.create_token(admin, "tests")
        return plaintext

    return make


@pytest.fixture
def bearer(token_for):
    """``bearer("viewer")`` → the Authorization header of a new admin of that role."""

    def make(role: str = "superadmin") -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(role)}"}

    return make


@pytest.fixture
def api(client, bearer):
    """A test client acting as a superadmin through a bearer token."""
    headers = bearer("superadmin")

    def call(method: str, path: str, **kwargs):
        kwargs["headers"] = headers | kwargs.get("headers", {})
        return client.open(support.API + path, method=method, **kwargs)

    return call


@pytest.fixture
def group(make_provider, make_model):
    """The seed's openrouter provider: GPT-4o live for chat and code, two chat rivals."""
    openrouter = make_provider("openrouter", name="OpenRouter")
    gpt = make_model(
        openrouter,
        "gpt-4o",
        caps=["chat", "code"],
        active=True,
        model_id="openai/gpt-4o",
        display_name="GPT-4o",
    )
    claude = make_model(openrouter, "claude-3.5", caps=["chat"], display_name="Claude 3.5")
    llama = make_model(openrouter, "llama-3", caps=["chat", "code"], display_name="Llama 3")
    return {"provider": openrouter, "gpt": gpt, "claude": claude, "llama": llama}


class LiveServer:
    """The app served by a threaded werkzeug server on 127.0.0.1, on a free port."""

    def __init__(self, app):
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()

    def __call__(self, path: str = "/") -> str:
        return self.url + path


@pytest.fixture
def live_server(app):
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def provider(make_provider, fake_provider):
    """OpenRouter at the loopback provider, with an enabled shared key."""
    return make_provider(
        "openrouter",
        name="OpenRouter",
        base_url=fake_provider.url,
        shared_api_enabled=True,
        shared_api_key=support.SHARED_KEY,
    )


@pytest.fixture
def dead_url() -> str:
    return f"http://127.0.0.1:{closed_port()}/v1"


@pytest.fixture
def give_personal_key():
    def give(admin, provider, key=support.PERSONAL_KEY, use_shared_api=False):
        return admins.save_provider_settings(
            admin, provider, personal_api_key=key, use_shared_api=use_shared_api
        )

    return give
