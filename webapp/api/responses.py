"""The envelope every API answer travels in, and the language it speaks."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps

from flask import Response
from flask_babel import force_locale

from webapp.i18n import api_locale


def localized(view: Callable) -> Callable:
    """Run ``view`` with the API's language (messages are rendered inside)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        with force_locale(api_locale()):
            return view(*args, **kwargs)

    return wrapper


def _json(body: dict, status: int, headers: dict | None = None) -> Response:
    response = Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status=status,
        mimetype="application/json",
        headers=headers,
    )
    response.vary.add("Accept-Language")
    response.headers["Content-Language"] = api_locale()
    return response


def success(data, message, status: int = 200, *, headers: dict | None = None, **extra) -> Response:
    """``{"metaData": {"status": "success", "message"}, "data", **extra}``."""
    body = {"metaData": {"status": "success", "message": str(message)}, "data": data}
    body.update(extra)
    return _json(body, status, headers)


def failure(
    status: int, message, errors: dict | None = None, *, headers: dict | None = None
) -> Response:
    """``{"metaData": {"status": "error", "message"}}`` plus ``errors`` when there are any."""
    body: dict = {"metaData": {"status": "error", "message": str(message)}}
    if errors:
        body["errors"] = {
            str(field): [str(m) for m in messages] for field, messages in errors.items()
        }
    return _json(body, status, headers)
