"""Find the rows a change works on, 404 when they are gone, and lock them.

Every writer of the catalog locks in the same order: the provider row first
(``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the transaction already began
with ``BEGIN IMMEDIATE``), then the capability rows it will touch, ordered by
(capability, model_id). Two admins therefore queue instead of deadlocking.
"""

from __future__ import annotations

import functools

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select
from sqlalchemy.orm import selectinload

from webapp.errors import NotFound, ValidationError
from webapp.extensions import db
from webapp.models import AIModel, ModelCapability, Provider

PROVIDER_NOT_FOUND = _l("The provider was not found.")
MODEL_NOT_FOUND = _l("The model was not found.")
NOT_THIS_PROVIDERS = _l("This model does not belong to this provider.")


def one_or_404(stmt, message, field: str):
    """The one row ``stmt`` selects, or ``NotFound(message)`` for ``field``."""
    found = db.session.scalar(stmt)
    if found is None:
        raise NotFound(message, field=field)
    return found


def model_id_of(model: AIModel | int) -> int:
    return model.id if isinstance(model, AIModel) else int(model)


def get_provider(slug_or_id: str | int) -> Provider:
    column = Provider.id if isinstance(slug_or_id, int) else Provider.slug
    return one_or_404(select(Provider).where(column == slug_or_id), PROVIDER_NOT_FOUND, "provider")


def get_model(model_id: int, *, fresh: bool = False) -> AIModel:
    """The model with its capability rows and provider; ``fresh`` re-reads a loaded one."""
    stmt = (
        select(AIModel)
        .where(AIModel.id == model_id)
        .options(selectinload(AIModel.capability_rows), selectinload(AIModel.provider))
    )
    if fresh:
        stmt = stmt.execution_options(populate_existing=True)
    return one_or_404(stmt, MODEL_NOT_FOUND, "model")


def lock_provider(provider_id: int) -> Provider:
    """First lock of every catalog change: the provider row."""
    stmt = select(Provider).where(Provider.id == provider_id).with_for_update()
    return one_or_404(stmt, PROVIDER_NOT_FOUND, "provider")


def locked_provider(provider: Provider | str | int) -> Provider:
    """The provider (object, slug or id), locked."""
    if isinstance(provider, Provider):
        provider = provider.id
    if isinstance(provider, str):
        provider = get_provider(provider).id
    return lock_provider(provider)


def locked_model(model: AIModel | int) -> tuple[Provider, AIModel]:
    """The model's provider, locked, then the model re-read under that lock."""
    model_id = model_id_of(model)
    provider_id = one_or_404(
        select(AIModel.provider_id).where(AIModel.id == model_id), MODEL_NOT_FOUND, "model"
    )
    provider = lock_provider(provider_id)
    return provider, get_model(model_id, fresh=True)


def lock_provider_of_model(model_id: int, provider_id: int | None = None) -> Provider:
    """The model's provider (or ``provider_id``, which must be the model's), found and
    locked in one statement that also reads the model's owner."""
    params = {"model_pk": model_id, "provider_pk": provider_id}
    row = db.session.execute(_provider_of_model(provider_id is None), params).first()
    if row is None and provider_id is not None:
        raise NotFound(PROVIDER_NOT_FOUND, field="provider")
    if row is None or row[1] is None:
        raise NotFound(MODEL_NOT_FOUND, field="model")
    provider, owner_id = row
    if owner_id != provider.id:
        raise ValidationError(NOT_THIS_PROVIDERS, field="model")
    return provider


@functools.cache
def _provider_of_model(owner_only: bool):
    """``lock_provider_of_model``'s statement (built once: building costs more than running)."""
    owner = select(AIModel.provider_id).where(AIModel.id == bindparam("model_pk")).scalar_subquery()
    which = owner if owner_only else bindparam("provider_pk")
    return select(Provider, owner).where(Provider.id == which).with_for_update(of=Provider)


def group_rows(provider_id: int, caps: tuple[str, ...]):
    """The statement selecting every capability row of the groups, in lock order."""
    return (
        select(ModelCapability)
        .where(ModelCapability.provider_id == provider_id, ModelCapability.capability.in_(caps))
        .order_by(ModelCapability.capability, ModelCapability.model_id)
    )


def lock_groups(provider_id: int, caps: tuple[str, ...]) -> list[ModelCapability]:
    """Lock every capability row of the groups, in (capability, model_id) order."""
    if not caps:
        return []
    return list(db.session.scalars(group_rows(provider_id, caps).with_for_update()))
