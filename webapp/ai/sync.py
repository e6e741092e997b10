"""Model sync: the provider's model list against what is registered here.

``missing_models`` fetches the list (with the key the admin would use) and returns the
models whose ``model_id`` is not registered yet, each with its capabilities guessed:
from what the provider says (OpenRouter's ``architecture`` modalities) when it says it,
else from well-known id patterns (OpenAI's ``dall-e``, ``whisper``, ``tts``, …), else chat.
``add_models`` registers the chosen ones, inactive, in one transaction; a model id that is
already registered is skipped, so running it twice adds nothing the second time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from webapp import validation
from webapp.ai.calls import connection_client
from webapp.capabilities import sort_capabilities
from webapp.db import transactional
from webapp.errors import ValidationError
from webapp.extensions import db
from webapp.models import AIModel, Provider
from webapp.operations import catalog

FROM_PROVIDER = "provider"
FROM_ID = "id"
DEFAULT = "default"

# Checked in order against the lower-cased model id; the first match wins.
ID_PATTERNS: tuple[tuple[re.Pattern, tuple[str, ...]], ...] = (
    (re.compile(r"embed"), ("embedding",)),
    (re.compile(r"whisper|transcri"), ("transcription",)),
    (re.compile(r"(^|[^a-z])tts([^a-z]|$)|text-to-speech"), ("speech",)),
    (
        re.compile(r"dall-?e|gpt-image|imagen|stable-diffusion|sdxl|(^|[/-])sd3|flux|midjourney"),
        ("image",),
    ),
    (re.compile(r"coder|codestral|codex|code-"), ("chat", "code")),
    (re.compile(r"vision|-vl(\b|-)|llava"), ("chat", "vision")),
)

_NAME_BAD = re.compile(r"[^A-Za-z0-9._:/@+-]+")


@dataclass(frozen=True)
class SyncEntry:
    """A model the provider offers and this panel does not have yet."""

    model_id: str
    display_name: str
    capabilities: tuple[str, ...]
    guessed_from: str  # FROM_PROVIDER, FROM_ID or DEFAULT


def _modalities(entry: dict) -> tuple[set[str], set[str]] | None:
    arch = entry.get("architecture")
    if not isinstance(arch, dict):
        return None
    inputs = arch.get("input_modalities")
    outputs = arch.get("output_modalities")
    if isinstance(inputs, list) and isinstance(outputs, list):
        return {str(m).lower() for m in inputs}, {str(m).lower() for m in outputs}
    modality = arch.get("modality")  # older OpenRouter form: "text+image->text"
    if isinstance(modality, str) and "->" in modality:
        left, _, right = modality.lower().partition("->")
        return set(left.split("+")), set(right.split("+"))
    return None


def guess_capabilities(entry: dict) -> tuple[list[str], str]:
    """The capabilities of one listed model and where the guess came from."""
    said = _modalities(entry)
    if said is not None:
        inputs, outputs = said
        caps = []
        if "text" in outputs:
            caps.append("chat")
            if "image" in inputs:
                caps.append("vision")
        if "image" in outputs:
            caps.append("image")
        if "audio" in outputs and "text" not in outputs:
            caps.append("speech")
        if caps:
            return sort_capabilities(caps), FROM_PROVIDER
    model_id = str(entry.get("id", "")).lower()
    for pattern, caps in ID_PATTERNS:
        if pattern.search(model_id):
            return sort_capabilities(caps), FROM_ID
    return ["chat"], DEFAULT


def _display_name(entry: dict) -> str:
    name = entry.get("name")
    if isinstance(name, str) and name.strip() and name.isprintable():
        return name.strip()[:200]
    return str(entry["id"])[:200]


def registered_model_ids(provider: Provider) -> set[str]:
    return set(
        db.session.scalars(select(AIModel.model_id).where(AIModel.provider_id == provider.id))
    )


def missing_models(provider: Provider | str, admin=None) -> list[SyncEntry]:
    """The provider's models not registered here (by ``model_id``), sorted by id.

    Raises the AI errors (``NoApiAccess``, ``ProviderAuthError``, …) when the list cannot
    be fetched; the fetch is recorded like every call.
    """
    provider = catalog.get_provider(provider) if isinstance(provider, str) else provider
    listed, _ = connection_client(provider, admin).list_models()
    known = registered_model_ids(provider)
    entries: dict[str, SyncEntry] = {}
    for item in listed:
        model_id = item["id"].strip()
        if not model_id or model_id in known or model_id in entries:
            continue
        if len(model_id) > 200 or any(ch.isspace() for ch in model_id):
            continue  # not something our catalog can hold
        caps, source = guess_capabilities(item)
        entries[model_id] = SyncEntry(model_id, _display_name(item), tuple(caps), source)
    return sorted(entries.values(), key=lambda e: e.model_id.lower())


def model_name_for(model_id: str, taken: set[str]) -> str:
    """A registered ``name`` for ``model_id``: the id itself when it fits the name rules."""
    base = _NAME_BAD.sub("-", model_id).lstrip("._:/@+-")[:100] or "model"
    name, n = base, 2
    while name in taken:
        suffix = f"-{n}"
        name = base[: 100 - len(suffix)] + suffix
        n += 1
    return name


@transactional
def add_models(provider: Provider | str, chosen: list[dict], *, actor=None) -> list[AIModel]:
    """Register ``chosen`` (dicts with ``model_id``, ``display_name``, ``capabilities``),
    inactive, all or nothing. Model ids already registered are skipped (idempotent)."""
    provider = catalog.get_provider(provider.id if isinstance(provider, Provider) else provider)
    known = registered_model_ids(provider)
    taken = set(db.session.scalars(select(AIModel.name).where(AIModel.provider_id == provider.id)))
    created = []
    for item in chosen:
        model_id = validation.model_identifier(item.get("model_id"))
        if model_id in known:
            continue
        caps = item.get("capabilities")
        try:
            caps = validation.capabilities(caps)
        except ValidationError as exc:
            raise ValidationError(f"{model_id}: {exc.message}", field="capabilities") from None
        name = model_name_for(model_id, taken)
        display_name = (item.get("display_name") or model_id).strip()[:200]
        model, _ = catalog.create_model(
            provider,
            {
                "name": name,
                "model_id": model_id,
                "display_name": display_name,
                "capabilities": caps,
                "is_active": False,
            },
            actor=actor,
        )
        known.add(model_id)
        taken.add(name)
        created.append(model)
    return created
