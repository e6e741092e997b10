"""Activation: one live model per (provider, capability), DESIGN.md §1.

Every change runs in one transaction (``@transactional``) that first locks the
provider row (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the transaction
already began with ``BEGIN IMMEDIATE``) and then the capability rows it will
touch, ordered by (capability, model_id). Every writer takes the same locks in the
same order, so two admins queue instead of deadlocking, and the partial unique
index makes any path that skips this fail loudly rather than break the rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from webapp import messages
from webapp.capabilities import is_capability, sort_capabilities
from webapp.db import transactional
from webapp.errors import NotFound, ValidationError
from webapp.extensions import db
from webapp.models import ACTIVE_ROW, AIModel, ModelCapability, Provider, utcnow
from webapp.operations import audit, routing
from webapp.queries.lookup import invalidate_provider


@dataclass(frozen=True)
class ActivationResult:
    model: AIModel
    requested: tuple[str, ...]
    activated: tuple[str, ...]  # capabilities that became active for ``model``
    deactivated: tuple[tuple[AIModel, str], ...]  # (other model, capability) pairs
    left_inactive: tuple[AIModel, ...]  # other models left with no active capability
    # Plain ids taken inside the transaction: the ORM objects above are expired by the
    # commit, and reading them again would cost a query each.
    provider_id: int = 0
    deactivated_ids: tuple[tuple[int, str], ...] = ()

    @property
    def deactivated_count(self) -> int:
        """Distinct other models that lost at least one activation."""
        return len({model_id for model_id, _ in self.deactivated_ids})

    @property
    def changed(self) -> bool:
        return bool(self.activated)

    @property
    def affected_groups(self) -> tuple[tuple[int, str], ...]:
        return tuple((self.provider_id, cap) for cap in self.requested)

    def messages(self) -> list[str]:
        texts = [messages.model_activated()]
        if self.deactivated_count:
            texts.append(messages.other_models_deactivated(self.deactivated_count))
        return texts


@dataclass(frozen=True)
class DeactivationResult:
    model: AIModel
    requested: tuple[str, ...]
    deactivated: tuple[str, ...]  # capabilities ``model`` lost; each group is now empty
    provider_id: int = 0  # taken inside the transaction (see ActivationResult)

    @property
    def empty_groups(self) -> tuple[tuple[int, str], ...]:
        return tuple((self.provider_id, cap) for cap in self.deactivated)

    @property
    def changed(self) -> bool:
        return bool(self.deactivated)

    @property
    def affected_groups(self) -> tuple[tuple[int, str], ...]:
        return tuple((self.provider_id, cap) for cap in self.requested)


@dataclass(frozen=True)
class Conflict:
    model: AIModel
    capabilities: tuple[str, ...]

    @property
    def message(self) -> str:
        return messages.conflicting_models(self.model.display_name)


@dataclass(frozen=True)
class Preview:
    model: AIModel
    requested: tuple[str, ...]
    conflicts: tuple[Conflict, ...]  # one per other model that would lose an activation

    @property
    def deactivated_count(self) -> int:
        return len(self.conflicts)

    @property
    def messages(self) -> list[str]:
        return [c.message for c in self.conflicts]


def _model_id(model: AIModel | int) -> int:
    return model.id if isinstance(model, AIModel) else int(model)


def _load_model(model_id: int) -> AIModel:
    model = db.session.scalar(
        select(AIModel)
        .where(AIModel.id == model_id)
        .options(selectinload(AIModel.capability_rows), selectinload(AIModel.provider))
        .execution_options(populate_existing=True)
    )
    if model is None:
        raise NotFound(_l("The model was not found."), field="model")
    return model


def _requested(model: AIModel, capabilities: Iterable[str] | None) -> tuple[str, ...]:
    if capabilities is None:
        return tuple(model.capabilities)
    if isinstance(capabilities, str):
        capabilities = [capabilities]
    caps = list(capabilities)
    unknown = [c for c in caps if not is_capability(c)]
    if unknown:
        raise ValidationError(
            _l("Unknown capability: %(value)s", value=", ".join(map(str, unknown))),
            field="capabilities",
        )
    missing = [c for c in caps if c not in model.capabilities]
    if missing:
        raise ValidationError(
            _l("This model does not have the capability %(value)s.", value=", ".join(missing)),
            field="capabilities",
        )
    return tuple(sort_capabilities(caps))


def lock_provider(provider_id: int) -> Provider:
    """First lock of every catalogue change: the provider row."""
    provider = db.session.scalar(
        select(Provider).where(Provider.id == provider_id).with_for_update()
    )
    if provider is None:
        raise NotFound(_l("The provider was not found."), field="provider")
    return provider


def _lock_groups(provider_id: int, caps: tuple[str, ...]) -> list[ModelCapability]:
    """Lock every capability row of the groups, in (capability, model_id) order."""
    if not caps:
        return []
    return list(
        db.session.scalars(
            select(ModelCapability)
            .where(ModelCapability.provider_id == provider_id, ModelCapability.capability.in_(caps))
            .order_by(ModelCapability.capability, ModelCapability.model_id)
            .with_for_update()
        )
    )


def _active_caps_of(model_ids: set[int]) -> dict[int, list[str]]:
    if not model_ids:
        return {}
    rows = db.session.execute(
        select(ModelCapability.model_id, ModelCapability.capability).where(
            ModelCapability.model_id.in_(model_ids), ModelCapability.is_active
        )
    )
    result: dict[int, list[str]] = {mid: [] for mid in model_ids}
    for mid, cap in rows:
        result[mid].append(cap)
    return {mid: sort_capabilities(caps) for mid, caps in result.items()}


def preview(model: AIModel | int, capabilities: Iterable[str] | None = None) -> Preview:
    """What ``activate`` would deactivate, without writing or locking anything."""
    target = _load_model(_model_id(model))
    requested = _requested(target, capabilities)
    holders = db.session.execute(
        select(ModelCapability.model_id, ModelCapability.capability).where(
            ModelCapability.provider_id == target.provider_id,
            ModelCapability.capability.in_(requested),
            ACTIVE_ROW,
            ModelCapability.model_id != target.id,
        )
    ).all()
    by_model: dict[int, list[str]] = {}
    for mid, cap in holders:
        by_model.setdefault(mid, []).append(cap)
    models = {m.id: m for m in db.session.scalars(select(AIModel).where(AIModel.id.in_(by_model)))}
    conflicts = tuple(
        Conflict(models[mid], tuple(sort_capabilities(caps)))
        for mid, caps in sorted(by_model.items(), key=lambda kv: models[kv[0]].display_name)
    )
    return Preview(target, requested, conflicts)


@transactional
def activate(
    model: AIModel | int, capabilities: Iterable[str] | None = None, *, actor=None
) -> ActivationResult:
    """Make ``model`` the live model for ``capabilities`` (None: all of its own).

    Each other model that held one of them loses it, in the same transaction.
    """
    model_id = _model_id(model)
    provider_id = db.session.scalar(select(AIModel.provider_id).where(AIModel.id == model_id))
    if provider_id is None:
        raise NotFound(_l("The model was not found."), field="model")
    provider = lock_provider(provider_id)
    target = _load_model(model_id)
    requested = _requested(target, capabilities)
    rows = _lock_groups(provider_id, requested)

    losing = [
        r for r in rows if r.is_active and r.model_id != model_id and r.capability in requested
    ]
    gaining = [
        r for r in rows if r.model_id == model_id and r.capability in requested and not r.is_active
    ]
    if not gaining:
        return ActivationResult(target, requested, (), (), (), provider_id=provider_id)

    loser_ids = {r.model_id for r in losing}
    before = _active_caps_of(loser_ids | {model_id})
    now = utcnow()
    actor_id = getattr(actor, "id", None)
    if losing:
        # Deactivate first: the unique index is checked row by row.
        db.session.execute(
            update(ModelCapability)
            .where(
                ModelCapability.provider_id == provider_id,
                ModelCapability.capability.in_([r.capability for r in losing]),
                ModelCapability.model_id.in_(loser_ids),
            )
            .values(is_active=False, activated_at=None, activated_by_id=None)
        )
    db.session.execute(
        update(ModelCapability)
        .where(
            ModelCapability.model_id == model_id,
            ModelCapability.capability.in_([r.capability for r in gaining]),
        )
        .values(is_active=True, activated_at=now, activated_by_id=actor_id)
    )
    # A live model is never its own split arm or fallback (traffic policies).
    routing.leave_routing(provider_id, [r.capability for r in gaining], model_id)
    after = _active_caps_of(loser_ids | {model_id})
    losers = {m.id: m for m in db.session.scalars(select(AIModel).where(AIModel.id.in_(loser_ids)))}

    batch = audit.new_batch()
    activated = tuple(sort_capabilities(r.capability for r in gaining))
    audit.record(
        "model.activate",
        target,
        actor=actor,
        before={"active_capabilities": before[model_id]},
        after={
            "active_capabilities": after[model_id],
            "activated": list(activated),
            "deactivated": [
                {
                    "model_id": r.model_id,
                    "model": losers[r.model_id].display_name,
                    "capability": r.capability,
                }
                for r in sorted(losing, key=lambda r: (r.capability, r.model_id))
            ],
        },
        batch=batch,
    )
    for loser_id in sorted(loser_ids):
        audit.record(
            "model.deactivate",
            losers[loser_id],
            actor=actor,
            before={"active_capabilities": before[loser_id]},
            after={
                "active_capabilities": after[loser_id],
                "caused_by": {"model_id": model_id, "model": target.display_name},
            },
            batch=batch,
        )
    _touch(target, actor)
    invalidate_provider(provider.slug)
    db.session.expire(target)
    for loser in losers.values():
        db.session.expire(loser)
    deactivated = tuple(
        (losers[r.model_id], r.capability)
        for r in sorted(losing, key=lambda r: (r.capability, r.model_id))
    )
    left_inactive = tuple(losers[mid] for mid in sorted(loser_ids) if not after[mid])
    return ActivationResult(
        target,
        requested,
        activated,
        deactivated,
        left_inactive,
        provider_id=provider_id,
        deactivated_ids=tuple(
            (r.model_id, r.capability)
            for r in sorted(losing, key=lambda r: (r.capability, r.model_id))
        ),
    )


@transactional
def deactivate(
    model: AIModel | int, capabilities: Iterable[str] | None = None, *, actor=None
) -> DeactivationResult:
    """Take ``model`` off ``capabilities`` (None: all); each group it held is left empty."""
    model_id = _model_id(model)
    provider_id = db.session.scalar(select(AIModel.provider_id).where(AIModel.id == model_id))
    if provider_id is None:
        raise NotFound(_l("The model was not found."), field="model")
    provider = lock_provider(provider_id)
    target = _load_model(model_id)
    requested = _requested(target, capabilities)
    rows = _lock_groups(provider_id, requested)
    losing = sorted(r.capability for r in rows if r.model_id == model_id and r.is_active)
    if not losing:
        return DeactivationResult(target, requested, (), provider_id=provider_id)
    before = target.active_capabilities
    db.session.execute(
        update(ModelCapability)
        .where(ModelCapability.model_id == model_id, ModelCapability.capability.in_(losing))
        .values(is_active=False, activated_at=None, activated_by_id=None)
    )
    deactivated = tuple(sort_capabilities(losing))
    after = [c for c in before if c not in deactivated]
    audit.record(
        "model.deactivate",
        target,
        actor=actor,
        before={"active_capabilities": before},
        after={"active_capabilities": after, "deactivated": list(deactivated)},
        batch=audit.new_batch(),
    )
    _touch(target, actor)
    invalidate_provider(provider.slug)
    db.session.expire(target)
    return DeactivationResult(target, requested, deactivated, provider_id=provider_id)


@transactional
def clear_group(provider_id: int, capability: str, *, actor=None) -> DeactivationResult | None:
    """Leave the group with no active model («هیچ‌کدام»). None if it had none."""
    if not is_capability(capability):
        raise ValidationError(
            _l("Unknown capability: %(value)s", value=capability), field="capability"
        )
    lock_provider(provider_id)
    holder = db.session.scalar(
        select(ModelCapability.model_id).where(
            ModelCapability.provider_id == provider_id,
            ModelCapability.capability == capability,
            ACTIVE_ROW,
        )
    )
    if holder is None:
        return None
    return deactivate(holder, [capability], actor=actor)


def _touch(model: AIModel, actor) -> None:
    db.session.execute(
        update(AIModel)
        .where(AIModel.id == model.id)
        .values(updated_at=utcnow(), updated_by_id=getattr(actor, "id", None))
    )
