"""Errors in OpenAI's shape: ``{"error": {"message", "type", "code", "param"}}``.

``type`` follows OpenAI's names by status: 400/409/413/422 ``invalid_request_error``,
401 ``authentication_error``, 403 ``permission_error``, 404 ``not_found_error``, 429
``rate_limit_error``, 5xx ``api_error``. ``code`` is ours (``invalid_api_key``,
``model_not_found``, ``no_active_model``, …; see docs/GATEWAY.md). Messages are Persian
unless ``Accept-Language`` prefers English; a provider's own 4xx message is passed on
as it came (the key scrubbed out).

Every URL under ``/v1`` answers this way, unknown ones and unexpected failures included:
the handlers are the blueprint's, and a routing error under ``/v1`` (which no blueprint
owns) is turned into :class:`GatewayRoutingError` before anything else runs.
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, MethodNotAllowed, default_exceptions

from webapp.prefix_errors import PrefixRoutingError, answer_routing_errors

log = logging.getLogger(__name__)

TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}

HTTP_MESSAGES = {
    404: _l("The requested address was not found."),
    405: _l("This method is not allowed for this address."),
    413: _l("The request body is too large."),
    500: _l("An internal error occurred; please try again later."),
}
OTHER = _l("The request could not be processed.")


def error_type(status: int) -> str:
    return TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")


class GatewayError(Exception):
    """An answer the gateway gives instead of the provider's. ``kind`` is the metering
    outcome (defaults to ``code``)."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message,
        *,
        param: str | None = None,
        type_: str | None = None,
        headers: dict | None = None,
        kind: str | None = None,
    ):
        super().__init__(str(code))
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.type = type_ or error_type(status)
        self.headers = headers or {}
        self.kind = kind or code or "error"

    def body(self) -> dict:
        """The JSON body, the message rendered in the caller's language (call it while the
        request is there: under /v1 its locale is the API's, ``i18n.select_locale``)."""
        message = str(self.message)
        return {
            "error": {"message": message, "type": self.type, "code": self.code, "param": self.param}
        }

    def response(self, headers: dict | None = None) -> Response:
        return json_response(self.body(), self.status, self.headers | (headers or {}))


def json_response(payload, status: int, headers: dict | None = None) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False),
        status,
        headers,
        content_type="application/json",
    )


class GatewayRoutingError(PrefixRoutingError):
    """A 404/405 from routing for a URL under /v1 (which no blueprint owns)."""


def is_gateway_request() -> bool:
    return request.path == "/v1" or request.path.startswith("/v1/")


def _http_error(exc: HTTPException):
    status = exc.code or 500
    headers = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    code = {404: "unknown_url", 405: "method_not_allowed", 413: "request_too_large"}.get(status)
    return GatewayError(status, code, HTTP_MESSAGES.get(status, OTHER)).response(headers)


def _unexpected(exc: Exception):
    log.error("gateway: unexpected error on %s", request.path, exc_info=exc)
    return GatewayError(500, "internal_error", HTTP_MESSAGES[500]).response()


def register(bp: Blueprint) -> None:
    bp.register_error_handler(GatewayError, lambda exc: exc.response())
    for code in default_exceptions:
        bp.register_error_handler(code, _http_error)
    bp.register_error_handler(Exception, _unexpected)
    answer_routing_errors(bp, GatewayRoutingError, is_gateway_request, _http_error)
