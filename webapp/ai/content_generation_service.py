"""The seed's ``content_generation_service``: content comes from the active chat model."""

from __future__ import annotations

from webapp.ai.calls import AIClient, generate_content, get_client

CAPABILITY = "chat"


def get_provider(provider_name: str, admin=None, model_name: str | None = None) -> AIClient:
    """A ready client: ``model_name`` if given, else the active ``chat`` model; the key by
    the seed's priority. Raises ``NoActiveModel`` / ``NoApiAccess`` before any request."""
    return get_client(provider_name, capability=CAPABILITY, admin=admin, model_name=model_name)


__all__ = ["generate_content", "get_provider"]
