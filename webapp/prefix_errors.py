"""A routing error (404, 405) under a blueprint's URL prefix, answered by that blueprint.

A URL that matches no route has no blueprint, so the app's handlers would answer it,
after every ``before_request`` (the CSRF check included). ``answer_routing_errors`` lets
a blueprint that owns a prefix (``/api/``, ``/v1``) take such errors: a URL-value
preprocessor raises them again, wrapped, before anything else runs, and the only
app-level handler it adds is for the wrapper class, so it never touches a page's error
handling.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound


class PrefixRoutingError(Exception):
    """Routing's 404/405 for a URL under a blueprint's prefix; ``original`` is it."""

    def __init__(self, original: HTTPException):
        super().__init__(original.description)
        self.original = original


def answer_routing_errors(
    bp: Blueprint,
    wrapper: type[PrefixRoutingError],
    under_prefix: Callable[[], bool],
    answer: Callable[[HTTPException], object],
) -> None:
    """Routing's 404/405 for a request ``under_prefix`` is raised as ``wrapper`` and
    answered by ``answer`` (each blueprint its own ``wrapper`` class)."""

    @bp.app_url_value_preprocessor
    def _routing_errors(endpoint, values) -> None:
        exc = request.routing_exception
        if isinstance(exc, NotFound | MethodNotAllowed) and under_prefix():
            raise wrapper(exc)

    @bp.app_errorhandler(wrapper)
    def _routing_error(exc: PrefixRoutingError):
        return answer(exc.original)
