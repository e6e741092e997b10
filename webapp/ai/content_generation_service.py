"""The seed's ``content_generation_service``: content comes from the active chat model,
so its ``get_provider`` is ``chat_service``'s."""

from __future__ import annotations

from webapp.ai.calls import generate_content
from webapp.ai.chat_service import get_provider

__all__ = ["generate_content", "get_provider"]
