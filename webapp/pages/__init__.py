"""Dashboard pages for providers, personal keys, API tokens, admins and history.

One module and one blueprint per resource; the views parse the request, call a
service from ``webapp.services`` and render. ``init_app`` is called by the
factory's ``_register_blueprints``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from webapp.pages import admins, dates, history, keys, providers, tokens

    for module in (providers, keys, tokens, admins, history):
        app.register_blueprint(module.bp)
    dates.init_app(app)
