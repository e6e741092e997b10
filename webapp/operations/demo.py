"""Demo data: realistic providers and models, every capability, one live model per group."""

from __future__ import annotations

from sqlalchemy import select

from webapp.db import transactional
from webapp.extensions import db
from webapp.models import Admin, Provider
from webapp.operations import admins, catalog
from webapp.operations.activation import activate

DEMO_PASSWORD = "demo-pass-2026"
DEMO_ADMINS = (("admin", "superadmin"), ("operator", "operator"), ("viewer", "viewer"))

# (slug, name, base_url, shared key or None, [(name, model_id, display name, caps, active for)])
DEMO_CATALOG = (
    (
        "openrouter",
        "OpenRouter",
        "https://openrouter.ai/api/v1",
        "sk-or-v1-demo-shared-7f3a",
        [
            ("gpt-4o", "openai/gpt-4o", "GPT-4o", ["chat", "vision"], ["chat", "vision"]),
            (
                "claude-3.5-sonnet",
                "anthropic/claude-3.5-sonnet",
                "Claude 3.5 Sonnet",
                ["chat", "code"],
                ["code"],
            ),
            ("llama-3.1-70b", "meta-llama/llama-3.1-70b-instruct", "Llama 3.1 70B", ["chat"], []),
            ("deepseek-coder", "deepseek/deepseek-coder", "DeepSeek Coder", ["code"], []),
            ("gemini-1.5-pro", "google/gemini-pro-1.5", "Gemini 1.5 Pro", ["chat", "vision"], []),
        ],
    ),
    (
        "openai",
        "OpenAI",
        "https://api.openai.com/v1",
        None,
        [
            ("gpt-4o-mini", "gpt-4o-mini", "GPT-4o mini", ["chat", "code"], ["chat", "code"]),
            ("o3-mini", "o3-mini", "o3-mini", ["chat", "code"], []),
            ("gpt-image-1", "gpt-image-1", "GPT Image 1", ["image"], ["image"]),
            ("dall-e-3", "dall-e-3", "DALL·E 3", ["image"], []),
            (
                "text-embedding-3-small",
                "text-embedding-3-small",
                "Text Embedding 3 Small",
                ["embedding"],
                ["embedding"],
            ),
            (
                "text-embedding-3-large",
                "text-embedding-3-large",
                "Text Embedding 3 Large",
                ["embedding"],
                [],
            ),
            ("whisper-1", "whisper-1", "Whisper", ["transcription"], ["transcription"]),
            ("tts-1", "tts-1", "TTS 1", ["speech"], ["speech"]),
            ("tts-1-hd", "tts-1-hd", "TTS 1 HD", ["speech"], []),
        ],
    ),
    (
        "stability",
        "Stability AI",
        "https://api.stability.ai/v1",
        None,
        [
            ("sdxl", "stable-diffusion-xl-1024-v1-0", "Stable Diffusion XL", ["image"], ["image"]),
            ("sd3-medium", "sd3-medium", "Stable Diffusion 3 Medium", ["image"], []),
        ],
    ),
)


@transactional
def seed_demo(actor="seed-demo") -> dict:
    """Load the demo data; idempotent (what exists is left as it is)."""
    created = {"admins": 0, "providers": 0, "models": 0}
    for username, role in DEMO_ADMINS:
        if db.session.scalar(select(Admin).where(Admin.username == username)) is None:
            admins.create_admin(username, DEMO_PASSWORD, role, actor=actor)
            created["admins"] += 1
    for slug, name, base_url, shared_key, models in DEMO_CATALOG:
        provider = db.session.scalar(select(Provider).where(Provider.slug == slug))
        if provider is not None:
            continue
        data = {"slug": slug, "name": name, "base_url": base_url}
        if shared_key:
            data |= {"shared_api_key": shared_key, "shared_api_enabled": True}
        provider = catalog.create_provider(data, actor=actor)
        created["providers"] += 1
        for m_name, model_id, display, caps, active in models:
            model, _ = catalog.create_model(
                provider,
                {
                    "name": m_name,
                    "model_id": model_id,
                    "display_name": display,
                    "capabilities": caps,
                },
                actor=actor,
            )
            created["models"] += 1
            if active:
                activate(model, active, actor=actor)
    return created
