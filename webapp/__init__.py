"""The AI model control panel: application factory."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from webapp.config import INSTANCE_DIR, Config, exposure_warning
from webapp.database import RowIdConverter
from webapp.extensions import babel, cache, csrf, db, login_manager, migrate

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

    import webapp.database
    import webapp.models  # noqa: F401  (mappings, for migrations)
    from webapp import auth, cli, i18n, metering, security

    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True
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
    auth.init_app(app)
    cli.init_app(app)
    app.url_map.converters["int"] = RowIdConverter
    metering.init_app(app)
    _register_blueprints(app)
    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    _warn_if_exposed(app)
    return app


def _warn_if_exposed(app: Flask) -> None:
    """``flask run --host …`` in development: say so loudly when the address is not
    loopback. (gunicorn's bind is checked by ``webapp.gunicorn_conf``.)"""
    import click

    ctx = click.get_current_context(silent=True)
    if ctx is None or ctx.info_name != "run":
        return
    warning = exposure_warning(app.config["APP_ENV"], str(ctx.params.get("host") or ""))
    if warning:
        app.logger.warning(warning)


def _engine_options(app: Flask) -> None:
    options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from webapp.database import sqlite_engine_options

        options = sqlite_engine_options() | options
        os.makedirs(app.instance_path, exist_ok=True)
    else:
        options.setdefault("pool_pre_ping", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _register_blueprints(app: Flask) -> None:
    from webapp.health import bp as health_bp

    app.register_blueprint(health_bp)
    from webapp import api
    from webapp.auth.views import bp as auth_bp
    from webapp.dashboard.views import bp as dashboard_bp
    from webapp.model_pages.views import bp as models_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(models_bp)  # /models, the models page (issue 3)
    from webapp.ai.views import bp as playground_bp

    app.register_blueprint(playground_bp)  # /playground, test connection, sync (issue 5)
    app.register_blueprint(api.bp)  # /api/v1, the JSON API (issue 4)
    from webapp.gateway import bp as gateway_bp

    app.register_blueprint(gateway_bp)  # /v1, the OpenAI-compatible gateway

    from webapp import pages

    pages.init_app(app)  # providers, keys, tokens, admins, history
