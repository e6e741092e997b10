"""A database that is away or locked: 503 "try again" instead of 500.

Whatever needs the database while it is away answers 503 with ``Retry-After``: in
the API's envelope, in OpenAI's error shape under ``/v1`` (code
``service_unavailable``), or as a Persian page on the dashboard. SQLite's "database
is locked" after the busy timeout gets the same answer. An htmx request (a switch on
the models page) gets the message alone, out of band into the alert area.
``webapp.outage`` keeps the log to one line per outage.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import OperationalError

from webapp.access import is_api_request
from webapp.api.responses import failure
from webapp.gateway import bp as gateway_bp
from webapp.gateway.errors import GatewayError, is_gateway_request
from webapp.i18n import api_locale
from webapp.outage import end_session, forget_transaction, state
from webapp.views.htmx import is_htmx

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
    # loading the admin needs the database. Persian whatever the choice, like the page.
    with force_locale("fa"):
        if is_htmx():
            # A switch that did not commit: the message goes to the alert area and
            # nothing is swapped; the page's script puts the group's radios back on
            # any error answer.
            flashes = current_app.jinja_env.get_template("_flash.html")
            body = flashes.render(success=[], errors=[str(MESSAGE)])
            return body, 503, headers | {"HX-Reswap": "none", "Vary": "HX-Request"}
        template = current_app.jinja_env.get_template("errors/database.html")
        page = template.render(message=MESSAGE, retry_url=request.full_path.rstrip("?"))
    return page, 503, headers


def init_app(app: Flask) -> None:
    app.register_error_handler(OperationalError, unavailable)
    # Registered after Flask-SQLAlchemy's, so it runs first (teardowns run in reverse).
    app.teardown_appcontext(end_session)


# The gateway blueprint answers every exception itself (its handler for Exception is
# found before an application's for OperationalError), so it gets this one too. Done
# once, here: a blueprint takes no new handlers after its first registration.
gateway_bp.register_error_handler(OperationalError, unavailable)
