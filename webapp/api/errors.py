"""Errors under ``/api/`` are never HTML: each becomes the envelope.

Handlers are blueprint-level (they win over the dashboard's app-level HTML
handlers for every routed API URL). A URL under ``/api/`` that matches no route
has no blueprint, so a URL-value preprocessor turns its routing error (404, 405)
into ``ApiRoutingError`` before any ``before_request`` runs (the CSRF check
included); the only app-level handler is for that class, so it never touches a
page's error handling.
"""

from __future__ import annotations

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import (
    HTTPException,
    MethodNotAllowed,
    Unauthorized,
    default_exceptions,
)

from webapp.access import is_api_request
from webapp.api.blueprint import bp
from webapp.api.responses import failure
from webapp.api.schemas import encodable
from webapp.errors import DomainError
from webapp.i18n import api_locale
from webapp.prefix_errors import PrefixRoutingError, answer_routing_errors

MESSAGES = {
    400: _l("The request is not valid."),
    401: _l("Authentication is required: sign in or send a valid bearer token."),
    403: _l("You do not have permission for this action."),
    404: _l("The requested address was not found."),
    405: _l("This method is not allowed for this address."),
    413: _l("The request body is too large."),
    429: _l("Too many requests; wait a moment and try again."),
    500: _l("An internal error occurred; please try again later."),
}
OTHER = _l("The request could not be processed.")
CSRF_MESSAGE = _l(
    "The CSRF token is missing or not valid; send it in the X-CSRFToken header "
    "or use a bearer token."
)


class ApiRoutingError(PrefixRoutingError):
    """A 404/405 from routing for a URL under /api/ (which no blueprint owns)."""


def http_error_response(exc: HTTPException):
    status = exc.code or 500
    if isinstance(exc, CSRFError) and not current_user.is_authenticated:
        status = 401  # no session and no bearer token: not signed in, whatever the CSRF
    with force_locale(api_locale()):
        if status == 401:
            exc = Unauthorized()
        message = CSRF_MESSAGE if isinstance(exc, CSRFError) else MESSAGES.get(status, OTHER)
        headers = {}
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return failure(status, message, headers=headers)


def domain_error_response(exc: DomainError):
    with force_locale(api_locale()):
        errors = {
            encodable(field): [encodable(m) for m in messages]
            for field, messages in exc.errors.items()
        }
        return failure(exc.status, encodable(exc.message), errors)


# Per code, so the lookup (codes before classes, blueprint before app) finds ours
# for every routed API request before any app-level handler for that code.
for _code in default_exceptions:
    bp.register_error_handler(_code, http_error_response)
bp.register_error_handler(DomainError, domain_error_response)
answer_routing_errors(bp, ApiRoutingError, is_api_request, http_error_response)
