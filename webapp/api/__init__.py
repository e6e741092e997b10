"""The JSON API under ``/api/v1`` (docs/CONTRACTS.md §5).

Every answer, errors included, is the envelope
``{"metaData": {"status", "message"}, "data"}``; messages are Persian unless the
client asks for English with ``Accept-Language: en`` (see ``responses.api_locale``).
Importing the route modules registers their routes and handlers on ``bp``.
"""

from __future__ import annotations

from webapp.api import ai_models, ai_providers, errors, openapi, policies, usage
from webapp.api.blueprint import bp

__all__ = ["ai_models", "ai_providers", "bp", "errors", "openapi", "policies", "usage"]
