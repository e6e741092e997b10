"""The seed's ``image_generation_service``: images come from the active image model."""

from __future__ import annotations

from webapp.ai.calls import AIClient, ImageResult, generate_image, get_client

CAPABILITY = "image"


def get_provider(provider_name: str, admin=None, model_name: str | None = None) -> AIClient:
    """A ready client for the active ``image`` model (or ``model_name``)."""
    return get_client(provider_name, capability=CAPABILITY, admin=admin, model_name=model_name)


def generate_image_only(
    provider_name: str, prompt: str, admin=None, model_name: str | None = None
) -> ImageResult:
    """One image for ``prompt``: ``.url`` or ``.b64_json``, plus model, key source, latency."""
    return generate_image(provider_name, prompt, admin=admin, model_name=model_name)


__all__ = ["generate_image", "generate_image_only", "get_provider"]
