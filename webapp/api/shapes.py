"""The JSON shapes of DESIGN.md §5, and the read queries that feed them.

Lists load capabilities, providers and the audit usernames in a fixed number of
queries, whatever the page size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Admin, AIModel, ModelCapability, Provider

MODEL_KEYS = (
    "id",
    "name",
    "model_id",
    "display_name",
    "provider",
    "provider_name",
    "capabilities",
    "is_active",
    "active_capabilities",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def usernames(rows: Iterable) -> dict[int, str]:
    ids = {i for r in rows for i in (r.created_by_id, r.updated_by_id) if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(Admin.id, Admin.username).where(Admin.id.in_(ids))).all())


def model_json(model: AIModel, names: dict[int, str] | None = None) -> dict:
    if names is None:
        names = usernames([model])
    return {
        "id": model.id,
        "name": model.name,
        "model_id": model.model_id,
        "display_name": model.display_name,
        "provider": model.provider.slug,
        "provider_name": model.provider.name,
        "capabilities": model.capabilities,
        "is_active": model.is_active,
        "active_capabilities": model.active_capabilities,
        "created_at": iso(model.created_at),
        "updated_at": iso(model.updated_at),
        "created_by": names.get(model.created_by_id),
        "updated_by": names.get(model.updated_by_id),
    }


def models_json(models: Sequence[AIModel]) -> list[dict]:
    names = usernames(models)
    return [model_json(m, names) for m in models]


def provider_json(provider: Provider, names: dict[int, str] | None = None) -> dict:
    if names is None:
        names = usernames([provider])
    return {
        "id": provider.id,
        "slug": provider.slug,
        "name": provider.name,
        "base_url": provider.base_url,
        "is_enabled": provider.is_enabled,
        "shared_api_enabled": provider.shared_api_enabled,
        "has_shared_api_key": provider.has_shared_api_key,
        "shared_api_key_hint": provider.shared_api_key_hint if provider.has_shared_api_key else "",
        "created_at": iso(provider.created_at),
        "updated_at": iso(provider.updated_at),
        "created_by": names.get(provider.created_by_id),
        "updated_by": names.get(provider.updated_by_id),
    }


def providers_json(providers: Sequence[Provider]) -> list[dict]:
    names = usernames(providers)
    return [provider_json(p, names) for p in providers]


# --- read queries --------------------------------------------------------------------------


def model_query(
    provider: Provider | None = None,
    capability: str | None = None,
    is_active: bool | None = None,
) -> Select:
    """Models, filtered; ``is_active`` means active for ``capability`` when one is given,
    else active for at least one capability."""
    stmt = select(AIModel).options(
        selectinload(AIModel.capability_rows), selectinload(AIModel.provider)
    )
    if provider is not None:
        stmt = stmt.where(AIModel.provider_id == provider.id)
    if capability is not None:
        stmt = stmt.where(
            exists().where(
                ModelCapability.model_id == AIModel.id, ModelCapability.capability == capability
            )
        )
    if is_active is not None:
        condition = [ModelCapability.model_id == AIModel.id, ModelCapability.is_active]
        if capability is not None:
            condition.append(ModelCapability.capability == capability)
        active = exists().where(*condition)
        stmt = stmt.where(active if is_active else ~active)
    return stmt


def page_of(stmt: Select, order_by, page: int, page_size: int) -> tuple[list, dict]:
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = list(
        db.session.scalars(stmt.order_by(*order_by).limit(page_size).offset((page - 1) * page_size))
    )
    pagination = {
        "page": page,
        "page_size": page_size,
        "total": total,
        "pages": (total + page_size - 1) // page_size,
    }
    return rows, pagination


def find_provider(slug: str) -> Provider | None:
    return db.session.scalar(select(Provider).where(Provider.slug == slug))
