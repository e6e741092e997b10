"""Safe defaults: an installation's own secrets, refused settings, production cookies."""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet

from tests.conftest import FERNET_KEYS, make_config
from tests.support import PASSWORD, AdminFactory, csrf_token
from webapp import config as config_module
from webapp import create_app
from webapp.config import DEV_SECRET_KEY, Config, ConfigError

ROOT = Path(__file__).resolve().parent.parent
GOOD_FERNET, OTHER_FERNET = FERNET_KEYS.split(",")
STRONG = "s" * 40
SETTINGS = ("APP_ENV", "SECRET_KEY", "FERNET_KEYS", "DATABASE_URL", "CACHE_URL")


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """An empty instance folder and no setting in the environment."""
    folder = tmp_path / "instance"
    monkeypatch.setattr(config_module, "INSTANCE_DIR", folder)
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return folder


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def test_development_makes_its_own_secrets_once_and_reuses_them(instance):
    first = Config.from_env()
    first.check()
    assert first.SECRET_KEY != DEV_SECRET_KEY and len(first.SECRET_KEY) >= 32
    Fernet(first.FERNET_KEYS.encode())  # a valid key
    for name in ("secret_key", "fernet_key"):
        assert private(instance / name), name
    again = Config.from_env()
    assert (again.SECRET_KEY, again.FERNET_KEYS) == (first.SECRET_KEY, first.FERNET_KEYS)


def test_settings_given_are_used_and_nothing_is_written(instance, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", STRONG)
    monkeypatch.setenv("FERNET_KEYS", GOOD_FERNET)
    cfg = Config.from_env()
    assert (cfg.SECRET_KEY, cfg.FERNET_KEYS) == (STRONG, GOOD_FERNET)
    assert not instance.exists()


@pytest.mark.parametrize("value", ["prod", "Production", "staging", "dev"])
def test_an_unknown_app_env_is_refused_at_start_up(instance, monkeypatch, value):
    monkeypatch.setenv("APP_ENV", value)
    with pytest.raises(
        ConfigError, match=f"APP_ENV must be 'development' or 'production', got '{value}'"
    ):
        create_app()
    assert not instance.exists()  # and it did not start in development either
    monkeypatch.delenv("APP_ENV")
    with pytest.raises(ConfigError, match="APP_ENV"):
        Config.from_env(APP_ENV=value)


@pytest.mark.parametrize(
    ("secret_key", "fernet_keys", "refused"),
    [
        ("short-key", GOOD_FERNET, "SECRET_KEY is too weak"),
        (DEV_SECRET_KEY + "-" * 10, GOOD_FERNET, None),
        (DEV_SECRET_KEY, GOOD_FERNET, "SECRET_KEY is too weak"),
        (STRONG, "not-a-key", "FERNET_KEYS: key 1 is not a valid Fernet key"),
        (STRONG, f"{GOOD_FERNET},{GOOD_FERNET[:-2]}", "FERNET_KEYS: key 2"),
        (STRONG, f"{GOOD_FERNET}, {OTHER_FERNET}", None),
    ],
    ids=["short", "old-dev-key-lengthened", "old-dev-key", "bad-fernet", "bad-2nd", "good"],
)
def test_production_refuses_weak_or_malformed_secrets(
    instance, monkeypatch, secret_key, fernet_keys, refused
):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", secret_key)
    monkeypatch.setenv("FERNET_KEYS", fernet_keys)
    cfg = Config.from_env()
    if refused is None:
        cfg.check()
    else:
        with pytest.raises(ConfigError, match=re.escape(refused)):
            cfg.check()
        with pytest.raises(ConfigError, match=re.escape(refused)):
            create_app()
    assert not instance.exists()


def test_a_malformed_fernet_key_is_refused_in_development_too(instance, monkeypatch):
    monkeypatch.setenv("FERNET_KEYS", "not-a-key")
    with pytest.raises(ConfigError, match="FERNET_KEYS"):
        create_app()


def run_flask(tmp_path, host: str, app_env: str, caplog, monkeypatch) -> list[str]:
    """``flask run --host HOST`` up to the moment it would serve."""
    from click.testing import CliRunner
    from flask import cli as flask_cli
    from flask.cli import FlaskGroup

    monkeypatch.setattr(flask_cli, "run_simple", lambda *a, **k: None)
    settings = {"APP_ENV": app_env}
    if app_env == "production":
        settings |= {"SECRET_KEY": STRONG}
    cli = FlaskGroup(
        create_app=lambda: create_app(make_config(f"sqlite:///{tmp_path / 'run.db'}", **settings))
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        result = CliRunner().invoke(cli, ["run", "--host", host, "--port", "5999"])
    assert result.exit_code == 0, result.output
    return [r.getMessage() for r in caplog.records if "listening on" in r.getMessage()]


def test_development_warns_when_flask_run_listens_beyond_loopback(tmp_path, caplog, monkeypatch):
    warnings = run_flask(tmp_path, "0.0.0.0", "development", caplog, monkeypatch)
    assert len(warnings) == 1 and "APP_ENV=development while listening on 0.0.0.0" in warnings[0]
    assert run_flask(tmp_path, "127.0.0.1", "development", caplog, monkeypatch) == []
    assert run_flask(tmp_path, "localhost", "development", caplog, monkeypatch) == []
    assert run_flask(tmp_path, "0.0.0.0", "production", caplog, monkeypatch) == []


def test_development_warns_when_gunicorn_binds_beyond_loopback(monkeypatch):
    from webapp import gunicorn_conf

    def warnings(app_env: str, *bind: str) -> list[str]:
        said: list[str] = []
        monkeypatch.setenv("APP_ENV", app_env)
        server = SimpleNamespace(cfg=SimpleNamespace(bind=list(bind)), log=SimpleNamespace())
        server.log.warning = said.append
        gunicorn_conf.when_ready(server)
        return said

    assert len(warnings("development", "0.0.0.0:8000")) == 1
    assert len(warnings("development", "127.0.0.1:8000", "[::]:8000")) == 1
    assert warnings("development", "127.0.0.1:8000", "[::1]:8000", "unix:/run/panel.sock") == []
    assert warnings("production", "0.0.0.0:8000") == []


def test_make_run_works_with_no_setting_and_keeps_its_secrets(tmp_path):
    """``make run``'s steps in a copy of the project, with an empty environment:
    a second start reuses the generated secrets, so stored keys still decrypt."""
    copy = tmp_path / "panel"
    ignore = shutil.ignore_patterns("__pycache__", "instance")
    for part in ("webapp", "migrations", "templates", "static", "translations"):
        shutil.copytree(ROOT / part, copy / part, ignore=ignore)
    shutil.copy(ROOT / "wsgi.py", copy / "wsgi.py")
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS and not k.startswith("FLASK")}

    def flask(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done

    flask("db", "upgrade")
    flask("seed-demo")
    secret = (copy / "instance" / "secret_key").read_text()
    assert private(copy / "instance" / "secret_key")
    assert private(copy / "instance" / "fernet_key")
    assert DEV_SECRET_KEY not in secret
    rotated = flask("rotate-keys")  # a new process: decrypts every stored key
    assert re.search(r"re-encrypted [1-9]\d* secrets", rotated.stdout), rotated.stdout
    assert (copy / "instance" / "secret_key").read_text() == secret


def post_from(client, base: str, page: str, path: str, data: dict):
    """Post ``data`` to ``path`` from the page at ``page`` over ``base``, with that page's
    CSRF token and address (HTTPS checks the Referer)."""
    token = csrf_token(client, page, base_url=base)
    return client.post(
        path, base_url=base, headers={"Referer": base + page}, data=data | {"csrf_token": token}
    )


def login(client, base: str) -> list[str]:
    form = {"username": "sara", "password": PASSWORD, "remember": "y"}
    response = post_from(client, base, "/login", "/login", form)
    assert response.status_code == 302
    return response.headers.getlist("Set-Cookie")


def host_only(cookie: str) -> bool:
    attributes = [a.strip().lower() for a in cookie.split(";")[1:]]
    return (
        "secure" in attributes
        and "path=/" in attributes
        and not any(a.startswith("domain=") for a in attributes)
    )


def test_production_cookies_are_host_only(app_factory):
    base = "https://panel.example"
    app = app_factory(APP_ENV="production", SECRET_KEY=STRONG)
    with app.app_context():
        AdminFactory()("operator", username="sara")
        client = app.test_client()
        cookies = login(client, base)
        by_name = {c.split("=", 1)[0]: c for c in cookies}
        assert {"__Host-session", "__Host-remember_token"} <= set(by_name), cookies
        english = {"lang": "en", "next": "/models"}
        response = post_from(client, base, "/models", "/language", english)
        lang_cookie = next(c for c in response.headers.getlist("Set-Cookie") if "lang=" in c)
        assert lang_cookie.startswith("__Host-lang=en")
        for cookie in (by_name["__Host-session"], by_name["__Host-remember_token"], lang_cookie):
            assert host_only(cookie), cookie
        # The language is read back from the cookie of that name.
        fresh = app.test_client()
        fresh.set_cookie("__Host-lang", "en", domain="panel.example")
        assert 'lang="en"' in fresh.get("/login", base_url=base).get_data(as_text=True)


def test_development_cookies_keep_their_plain_names(app_factory):
    app = app_factory()
    with app.app_context():
        AdminFactory()("operator", username="sara")
        names = {c.split("=", 1)[0] for c in login(app.test_client(), "http://localhost")}
        assert {"session", "remember_token"} <= names
