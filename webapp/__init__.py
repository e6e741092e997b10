"""The AI model control panel: application factory."""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import webapp.models  # noqa: F401  (mappings, for migrations)
from webapp import access, api, cli, extensions, gateway, i18n, metering, security, unavailable
from webapp.config import INSTANCE_DIR, Config, exposure_warning
from webapp.db import RowIdConverter, ping_before_reads, sqlite_engine_options
from webapp.extensions import babel, cache, csrf, login_manager, migrate
from webapp.views import BLUEPRINTS, dates_init
from webapp.views.health import Liveness

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Config | None = None) -> Flask:
    """Build the application; ``config`` defaults to :meth:`Config.from_env`."""
    config = config or Config.from_env()
    config.check()
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(INSTANCE_DIR),
    )
    app.config.from_mapping(config.as_mapping())
    _engine_options(app)

    extensions.db.init_app(app)
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            ping_before_reads(extensions.db.engine)
    migrate.init_app(
        app,
        extensions.db,
        directory=str(ROOT / "migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(
        app,
        locale_selector=i18n.select_locale,
        default_translation_directories=str(ROOT / "translations"),
    )
    cache.init_app(app)
    security.init_app(app)
    i18n.init_app(app)
    access.init_app(app)
    cli.init_app(app)
    app.url_map.converters["int"] = RowIdConverter
    metering.init_app(app)
    unavailable.init_app(app)
    _register_blueprints(app)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.wsgi_app = Liveness(app.wsgi_app, security.default_headers(app))  # outermost
    _warn_if_exposed(app)
    return app


def _warn_if_exposed(app: Flask) -> None:
    """``flask run --host …`` in development: say so loudly when the address is not
    loopback. (gunicorn's bind is checked by ``webapp.gunicorn_conf``.)"""
    ctx = click.get_current_context(silent=True)
    if ctx is None or ctx.info_name != "run":
        return
    warning = exposure_warning(app.config["APP_ENV"], str(ctx.params.get("host") or ""))
    if warning:
        app.logger.warning(warning)


def _engine_options(app: Flask) -> None:
    options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        options = sqlite_engine_options() | options
        os.makedirs(app.instance_path, exist_ok=True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _register_blueprints(app: Flask) -> None:
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    app.register_blueprint(api.bp)  # /api/v1, the JSON API
    app.register_blueprint(gateway.bp)  # /v1, the OpenAI-compatible gateway
    dates_init(app)
