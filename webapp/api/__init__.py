"""The JSON API under ``/api/v1`` (DESIGN.md §5).

Every answer, errors included, is the envelope
``{"metaData": {"status", "message"}, "data"}``; messages are Persian unless the
client asks for English with ``Accept-Language: en`` (see ``responses.api_locale``).
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from webapp.api import ai_models, ai_providers, errors, openapi, usage  # noqa: E402,F401  (routes, handlers)
