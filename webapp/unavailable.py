"""A database that is away or locked: 503 "try again" instead of 500.

Whatever needs the database while it is away answers 503 with ``Retry-After``: in
the API's envelope, in OpenAI's error shape under ``/v1`` (code
``service_unavailable``), or as a Persian page on the dashboard. SQLite's "database
is locked" after the busy timeout gets the same answer. ``webapp.outage`` keeps the
log to one line per outage.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import OperationalError

from webapp.access import is_api_request
from webapp.api.responses import api_locale, failure
from webapp.gateway import bp as gateway_bp
from webapp.gateway.errors import GatewayError, is_gateway_request
from webapp.outage import forget_transaction, state

RETRY_AFTER = "5"
MESSAGE = _l("The database is unavailable; try again in a few moments.")


def unavailable(exc: OperationalError):
    """The 503 for whoever asked: API envelope, gateway error or dashboard page."""
    state.went_down(exc)
    forget_transaction()
    headers = {"Retry-After": RETRY_AFTER}
    if is_gateway_request():
        return GatewayError(503, "service_unavailable", MESSAGE, headers=headers).response()
    if is_api_request():
        with force_locale(api_locale()):
            return failure(503, MESSAGE, headers=headers)
    # Rendered without the context processors: they reach the signed-in admin, and
    # loading the admin needs the database. The page is Persian whatever the choice.
    template = current_app.jinja_env.get_template("errors/database.html")
    with force_locale("fa"):
        page = template.render(message=MESSAGE, retry_url=request.full_path.rstrip("?"))
    return page, 503, headers


def init_app(app: Flask) -> None:
    app.register_error_handler(OperationalError, unavailable)


# The gateway blueprint answers every exception itself (its handler for Exception is
# found before an application's for OperationalError), so it gets this one too. Done
# once, here: a blueprint takes no new handlers after its first registration.
gateway_bp.register_error_handler(OperationalError, unavailable)
