"""Strict input: the JSON body and the query string, checked before any service runs.

Only shapes and JSON types are checked here (unknown fields, wrong types, missing
parameters, malformed JSON); the values themselves are checked by the services'
validators, so forms, CLI and API share one set of rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import request
from flask_babel import lazy_gettext as _l

from webapp.capabilities import is_capability
from webapp.db import MAX_ID
from webapp.errors import NotFound, ValidationError
from webapp.validation import SLUG_RE

INVALID_INPUT = _l("The input is not valid.")
MAX_PAGE = 100_000
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
MAX_INT32 = MAX_ID  # row ids; the URL converter routes nothing larger


def invalid(errors: dict) -> ValidationError:
    return ValidationError(INVALID_INPUT, errors={k: [str(v)] for k, v in errors.items()})


# --- JSON bodies -------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    kind: str  # "string", "boolean", "capabilities", "string_or_null"
    required: bool = False


def _type_error(kind: str, value: object):
    if kind == "string" and not isinstance(value, str):
        return _l("This field must be text.")
    if kind == "string_or_null" and not (value is None or isinstance(value, str)):
        return _l("This field must be text or null.")
    if kind == "boolean" and not isinstance(value, bool):
        return _l("This field must be true or false.")
    if kind == "capabilities":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return _l("Capabilities must be a list of capability names.")
        unknown = [v for v in value if not is_capability(v)]
        if unknown:
            return _l("Unknown capability: %(value)s", value=", ".join(unknown)[:100])
    return None


def _reject_constant(name: str):
    raise ValueError(name)


def json_body(fields: dict[str, Field]) -> dict:
    """The request's JSON object, holding only ``fields``, each of its JSON type."""
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
    errors: dict = {}
    for key in data:
        if key not in fields:
            errors[key] = _l("Unknown field.")
    for key, spec in fields.items():
        if key not in data:
            if spec.required:
                errors[key] = _l("This field is required.")
            continue
        problem = _type_error(spec.kind, data[key])
        if problem is not None:
            errors[key] = problem
    if errors:
        raise invalid(errors)
    return data


# --- query strings -----------------------------------------------------------------------


def query(allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, str]:
    """The query parameters, each given at most once; unknown ones are refused."""
    errors: dict = {}
    values: dict[str, str] = {}
    for key in request.args:
        items = request.args.getlist(key)
        if key not in allowed:
            errors[key] = _l("Unknown parameter.")
        elif len(items) > 1:
            errors[key] = _l("Give this parameter only once.")
        else:
            values[key] = items[0]
    for key in required:
        if key not in values and key not in errors:
            errors[key] = _l("This parameter is required.")
    if errors:
        raise invalid(errors)
    return values


def capability_param(value: str | None, field: str = "capability") -> str | None:
    if value is None:
        return None
    if not is_capability(value):
        raise invalid({field: _l("Unknown capability: %(value)s", value=value[:50])})
    return value


def boolean_param(value: str | None, field: str) -> bool | None:
    if value is None:
        return None
    if value in ("true", "false"):
        return value == "true"
    raise invalid({field: _l("Use true or false.")})


def int_param(value: str | None, field: str, *, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        raise invalid(
            {field: _l("Use a whole number from %(low)d to %(high)d.", low=low, high=high)}
        )
    return int(value)


def page_params(args: dict[str, str]) -> tuple[int, int]:
    page = int_param(args.get("page"), "page", default=1, low=1, high=MAX_PAGE)
    size = int_param(
        args.get("page_size"), "page_size", default=DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE
    )
    return page, size


def provider_slug(value: str) -> str:
    """A slug that can exist; anything else is an unknown provider (404), without a query."""
    if not SLUG_RE.fullmatch(value):
        raise NotFound(_l("The provider was not found."), field="provider")
    return value
