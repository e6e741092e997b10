"""Shared fixtures: a fresh application and database per test, factories, logins.

The database is SQLite (a new file per test) unless ``TEST_DATABASE_URL`` points
at PostgreSQL; the cache is in-process unless ``TEST_CACHE_URL`` points at Redis.
Tests marked ``postgres`` or ``redis`` always use the real servers on
127.0.0.1 and fail, never skip, when those are down (``.ci/services`` starts them).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import g

pytest_plugins = ["tests.ai.fixtures"]  # the loopback provider, for tests/ai and tests/e2e

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import support  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.config import Config  # noqa: E402
from webapp.extensions import cache as cache_ext  # noqa: E402
from webapp.extensions import db as _db  # noqa: E402

FERNET_KEYS = (
    "Q2L6hSfLuZ-0o-0n7LhGmSTaAlvUuLk1jNnfrbxUzGk=,qCXs8rdZcmU1J9Gc9dHhhPpoK3l0Fv1qoK6l3y2pZ2Y="
)


def pytest_sessionstart(session) -> None:
    """Compile the catalogues so every test sees the real Persian text."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "-q",
            "compile",
            "-d",
            str(ROOT / "translations"),
        ],
        check=False,
    )


class Leakage:
    """Everything the suite's apps answered and logged, scanned at the end for keys."""

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


def pytest_collection_modifyitems(session, config, items) -> None:
    """The leak scan runs last, over what every other test produced."""
    last = [i for i in items if i.nodeid.startswith("tests/test_zz_leaks.py")]
    items[:] = [i for i in items if i not in last] + last


def worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "gw0")


def run_id() -> str:
    """Unique per test process, so two suites running at once never share data."""
    return f"{worker_id()}_{os.getpid()}"


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
    settings = {
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": db_url,
        "FERNET_KEYS": FERNET_KEYS,
        "CACHE_URL": cache_url,
        "CACHE_KEY_PREFIX": f"mcp-test-{run_id()}:",
        "TESTING": True,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "RATELIMIT_ENABLED": False,
    }
    return Config.from_env(**(settings | overrides))


@pytest.fixture
def app_factory(tmp_path, database_url, cache_url):
    """Build an app on this test's database; the schema is made once per test."""
    apps = []

    def build(**overrides):
        url = database_url or f"sqlite:///{tmp_path / 'test.db'}"
        app = create_app(make_config(url, cache_url, **overrides))

        @app.teardown_request
        def _forget_user(exc=None):
            # Tests keep one app context open across requests, and flask-login caches
            # the user on ``g`` (the app context's): forget it, as a real server would.
            g.pop("_login_user", None)
            g.pop("csrf_token", None)  # Flask-WTF caches the token there too

        @app.after_request
        def _keep_body(response):
            if not response.direct_passthrough and response.mimetype in (
                "text/html",
                "application/json",
                "text/plain",
            ):
                Leakage.bodies.append(response.get_data(as_text=True)[:200_000])
            return response

        if not apps:
            with app.app_context():
                support.reset_schema(_db, url)
                with contextlib.suppress(Exception):  # a test may point at a dead cache
                    cache_ext.clear()
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()


@pytest.fixture
def app(app_factory):
    app = app_factory()
    with app.app_context():
        yield app
        _db.session.remove()


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
