"""The ``model`` names a program sends (DESIGN.md §8), and the list ``/v1/models`` shows.

- ``<provider>``: the provider's live model for the endpoint's capability;
- ``<provider>:<capability>``: the live model for that capability, which must suit the
  endpoint (chat completions: chat, code, vision; embeddings: embedding; images: image);
- ``<provider>/<model>``: a model registered for that provider, by model id or name,
  active or not.

Slugs hold no ``/`` or ``:``, so the first of them splits the name.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.capabilities import CAPABILITIES, is_capability
from webapp.extensions import db
from webapp.gateway.errors import GatewayError
from webapp.models import AIModel, Provider


@dataclass(frozen=True)
class Endpoint:
    path: str  # under the provider's base URL, and under /v1
    capability: str  # what ``<provider>`` means here
    accepts: frozenset[str]  # what ``<provider>:<capability>`` may ask for


CHAT = Endpoint("/chat/completions", "chat", frozenset({"chat", "code", "vision"}))
EMBEDDINGS = Endpoint("/embeddings", "embedding", frozenset({"embedding"}))
IMAGES = Endpoint("/images/generations", "image", frozenset({"image"}))
ENDPOINTS = (CHAT, EMBEDDINGS, IMAGES)


@dataclass(frozen=True)
class ModelName:
    provider: str
    capability: str
    model: str | None  # set for ``<provider>/<model>``


def invalid(message, param: str | None = "model") -> GatewayError:
    return GatewayError(400, "invalid_request_error", message, param=param)


def parse(name: object, endpoint: Endpoint) -> ModelName:
    """``name`` as the program sent it; raises a 400 GatewayError when it cannot mean anything
    here (whether the provider and model exist is routing's question)."""
    if not isinstance(name, str) or not name.strip():
        raise invalid(
            _l("The «model» field is required: a provider, provider:capability or provider/model.")
        )
    name = name.strip()
    cut = min((i for i in (name.find("/"), name.find(":")) if i >= 0), default=-1)
    if cut < 0:
        return ModelName(name, endpoint.capability, None)
    provider, sep, rest = name[:cut], name[cut], name[cut + 1 :]
    if not provider or not rest:
        raise invalid(_l("The model name «%(name)s» is not complete.", name=name))
    if sep == "/":
        return ModelName(provider, endpoint.capability, rest)
    if not is_capability(rest):
        raise invalid(_l("Unknown capability «%(capability)s».", capability=rest))
    if rest not in endpoint.accepts:
        raise invalid(
            _l(
                "The capability «%(capability)s» cannot be used at this address.",
                capability=rest,
            )
        )
    return ModelName(provider, rest, None)


def listing() -> list[dict]:
    """Every name a program may send now, with the model it resolves to.

    For each enabled provider: ``<provider>`` when a chat, embedding or image model is live
    (``endpoints`` says which model each address would use), ``<provider>:<capability>``
    for every capability with a live model, and ``<provider>/<model id>`` for every
    registered model. Disabled providers are left out (they serve nothing)."""
    providers = db.session.scalars(
        select(Provider)
        .where(Provider.is_enabled)
        .order_by(Provider.slug)
        .options(selectinload(Provider.models).selectinload(AIModel.capability_rows))
    ).all()
    items: list[dict] = []
    for provider in providers:
        live: dict[str, AIModel] = {}
        for model in provider.models:
            for row in model.capability_rows:
                if row.is_active:
                    live[row.capability] = model
        defaults = {
            e.path.lstrip("/"): live[e.capability].model_id
            for e in ENDPOINTS
            if e.capability in live
        }
        if defaults:
            chat = live.get("chat")
            items.append(
                _item(provider.slug, provider, chat, capability="chat" if chat else None)
                | {"route": "live", "endpoints": defaults}
            )
        for capability in CAPABILITIES:
            if capability in live:
                items.append(
                    _item(f"{provider.slug}:{capability}", provider, live[capability], capability)
                    | {"route": "live"}
                )
        for model in sorted(provider.models, key=lambda m: m.model_id):
            items.append(
                _item(f"{provider.slug}/{model.model_id}", provider, model, None)
                | {
                    "route": "explicit",
                    "capabilities": model.capabilities,
                    "is_active": model.is_active,
                }
            )
    return items


def _item(name: str, provider: Provider, model: AIModel | None, capability: str | None) -> dict:
    created = model.created_at if model is not None else provider.created_at
    return {
        "id": name,
        "object": "model",
        "created": int(created.timestamp()),
        "owned_by": provider.slug,
        "provider": provider.slug,
        "capability": capability,
        "model": model.model_id if model is not None else None,
        "display_name": model.display_name if model is not None else None,
    }
