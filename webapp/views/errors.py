"""Error pages in Persian, in the dashboard's layout; a small fragment for htmx.

Only page requests: an ``/api/`` request gets its exception back untouched so the
API's own (JSON) handlers answer it.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp.access import is_api_request
from webapp.views.htmx import flash_oob, fragment, is_htmx

log = logging.getLogger(__name__)

TITLES = {
    400: _l("Bad request"),
    403: _l("Access denied"),
    404: _l("Page not found"),
    405: _l("Not allowed"),
    413: _l("Too large"),
    429: _l("Too many requests"),
    500: _l("Something went wrong"),
}
MESSAGES = {
    400: _l("The request was not valid. Check what you entered and try again."),
    403: _l("You do not have permission for this action."),
    404: _l("The page you asked for does not exist or has been removed."),
    405: _l("This address does not accept this kind of request."),
    413: _l("What you sent is too large."),
    429: _l("Too many requests in a short time; wait a moment and try again."),
    500: _l("An unexpected error happened on the server. It has been logged; try again."),
}
CSRF_MESSAGE = _l(
    "Your session has expired or the form is out of date. Reload the page and try again."
)
NUL_MESSAGE = _l("The request contains a NUL character, which is not allowed.")


def message_for(exc: HTTPException) -> str:
    """A custom description (already translated by whoever raised it), else ours."""
    if isinstance(exc, CSRFError):
        return str(CSRF_MESSAGE)
    code = exc.code or 500
    described = exc.description
    if described and described != type(exc).description and code != 500:
        return str(described)
    return str(MESSAGES.get(code, MESSAGES[500 if code >= 500 else 400]))


def render_error(exc: HTTPException):
    if is_api_request():
        return exc
    code = exc.code or 500
    message = message_for(exc)
    if is_htmx():
        # Only the message, out of band into the role="alert" area.
        return fragment(flash_oob(errors=[message]), code, HX_Reswap="none")
    title = TITLES.get(code, TITLES[500 if code >= 500 else 400])
    response = render_template("errors/error.html", code=code, title=title, message=message)
    return response, code, exc.get_headers() if code == 405 else {}


def internal_error(exc: Exception):
    if is_api_request():
        return exc
    original = getattr(exc, "original_exception", None)
    if original is not None:
        log.error("unhandled error on %s", request.path, exc_info=original)
    return render_error(InternalServerError())


def refuse_nul() -> None:
    """PostgreSQL cannot hold a NUL in text, and no person types one: refuse it in the
    path, any query parameter or form field of a page before a view passes it to a query.
    (The API checks its own input and answers in its envelope.)"""
    if is_api_request() or request.blueprint == "gateway":  # both check their own input
        return
    if "\x00" in request.path:
        abort(400, description=str(NUL_MESSAGE))
    sources = [request.args] if request.method == "GET" else [request.args, request.form]
    for values in sources:
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                abort(400, description=str(NUL_MESSAGE))


def register(bp: Blueprint) -> None:
    bp.before_app_request(refuse_nul)
    for code in (400, 403, 404, 405, 413, 429):
        bp.app_errorhandler(code)(render_error)
    bp.app_errorhandler(500)(internal_error)
