"""The API's blueprint, and what its routes open with: the permission, the checked
query string and JSON body, the acting admin, the provider a slug names.

``route`` records each route's permission, query and body schemas in ``ROUTES``; the
OpenAPI document reads them from there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, wraps

from flask import Blueprint, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from pydantic import ValidationError as PydanticError

from webapp.access import permission_required
from webapp.api.responses import localized
from webapp.api.schemas import BODY_MESSAGES, QUERY_MESSAGES, Body, Query, encodable, refused
from webapp.errors import NotFound, ValidationError
from webapp.models import Provider
from webapp.operations import catalog
from webapp.validation import SLUG_RE

PREFIX = "/api/v1"
bp = Blueprint("api", __name__, url_prefix=PREFIX)


@dataclass(frozen=True)
class Route:
    endpoint: str
    summary: str  # the first line of the view's docstring
    details: str  # its other paragraphs, joined
    permission: str
    query: type[Query]
    body: type[Body] | None


ROUTES: dict[tuple[str, str], Route] = {}  # (method, rule without the prefix) → Route


def route(
    method: str,
    rule: str,
    permission: str,
    query: type[Query] = Query,
    body: type[Body] | None = None,
) -> Callable:
    """Register a view for ``method`` on ``rule`` (with or without the trailing slash),
    in the API's language, for admins holding ``permission``; its query string is
    checked first and, when ``query`` declares parameters, passed as ``args``."""

    def register(view: Callable) -> Callable:
        summary, *details = (view.__doc__ or "").strip().split("\n\n")
        details = " ".join(" ".join(d.split()) for d in details)
        ROUTES[(method, rule)] = Route(view.__name__, summary, details, permission, query, body)

        @wraps(view)
        def checked(**kwargs):
            args = read_query(query)
            if query is not Query:
                kwargs["args"] = args
            return view(**kwargs)

        wrapped = localized(permission_required(permission)(checked))
        return bp.route(rule, methods=[method], strict_slashes=False)(wrapped)

    return register


def actor():
    return current_user._get_current_object()


def provider_slug(slug: str) -> str:
    """A slug that can exist; anything else is an unknown provider (404), without a query."""
    if not SLUG_RE.fullmatch(slug):
        raise NotFound(_l("The provider was not found."), field="provider")
    return slug


def provider_or_404(slug: str) -> Provider:
    return catalog.get_provider(provider_slug(slug))


def read_query(schema: type[Query]):
    """The query string checked against ``schema``; a valid one is remembered (the
    platform asks the same few questions again and again), so the answer is shared:
    views read it, never change it."""
    return _checked_query(schema, request.query_string)


@lru_cache(maxsize=4096)
def _checked_query(schema: type[Query], query_string: bytes):
    raw = {key: values[0] if len(values) == 1 else values for key, values in request.args.lists()}
    try:
        return schema.model_validate(raw)
    except PydanticError as exc:
        raise refused(exc, QUERY_MESSAGES) from None


def _reject_constant(name: str):
    raise ValueError(name)


def read_body() -> dict:
    """The request's JSON object, checked against its route's body schema: only the
    fields it sent."""
    schema = ROUTES[(request.method, request.url_rule.rule.removeprefix(PREFIX))].body
    if not request.is_json:
        raise ValidationError(
            _l("Send the body as JSON (Content-Type: application/json)."), field="body"
        )
    raw = request.get_data(cache=True)  # 413 beyond MAX_CONTENT_LENGTH
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ValidationError(_l("The request body is not valid JSON."), field="body") from None
    if not isinstance(data, dict):
        raise ValidationError(_l("The request body must be a JSON object."), field="body")
    try:
        # a name no field has (one with a lone surrogate included) is an unknown field
        data = {encodable(key): value for key, value in data.items()}
        return schema.model_validate(data).model_dump(exclude_unset=True)
    except PydanticError as exc:
        raise refused(exc, BODY_MESSAGES) from None
