"""Activation: one live model per (provider, capability), docs/CONTRACTS.md §1.

Every change runs in one transaction (``@transactional``) that takes the locks
``operations.locks`` describes: the provider row, then the capability rows it will
touch. Every writer takes them in the same order, so two admins queue instead of
deadlocking, and the partial unique index makes any path that skips this fail
loudly rather than break the rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from webapp import messages
from webapp.capabilities import is_capability, sort_capabilities
from webapp.db import transactional
from webapp.errors import ValidationError
from webapp.extensions import db
from webapp.models import ACTIVE_ROW, AIModel, ModelCapability, utcnow
from webapp.operations import audit, routing
from webapp.operations.locks import get_model, lock_groups, lock_provider, locked_model, model_id_of
from webapp.queries.groups import Conflict, conflicts_for
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
class Preview:
    model: AIModel
    requested: tuple[str, ...]
    conflicts: tuple[Conflict, ...]  # one per other model that would lose one

    @property
    def deactivated_count(self) -> int:
        return len(self.conflicts)

    @property
    def messages(self) -> list[str]:
        return [c.message for c in self.conflicts]


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
    target = get_model(model_id_of(model), fresh=True)
    requested = _requested(target, capabilities)
    conflicts = conflicts_for(target.provider_id, requested, exclude_model_id=target.id)
    return Preview(target, requested, tuple(conflicts))


def _by_group(rows: Iterable[ModelCapability]) -> list[ModelCapability]:
    """Rows in lock order, (capability, model_id): how results and audits list them."""
    return sorted(rows, key=lambda r: (r.capability, r.model_id))


@transactional(idempotent=True)
def activate(
    model: AIModel | int, capabilities: Iterable[str] | None = None, *, actor=None
) -> ActivationResult:
    """Make ``model`` the live model for ``capabilities`` (None: all of its own).

    Each other model that held one of them loses it, in the same transaction.
    """
    provider, target = locked_model(model)
    requested = _requested(target, capabilities)
    rows = lock_groups(provider.id, requested)
    losing = _by_group(
        r for r in rows if r.is_active and r.model_id != target.id and r.capability in requested
    )
    gaining = [
        r for r in rows if r.model_id == target.id and r.capability in requested and not r.is_active
    ]
    if not gaining:
        return ActivationResult(target, requested, (), (), (), provider_id=provider.id)
    loser_ids = {r.model_id for r in losing}
    before = _active_caps_of(loser_ids | {target.id})
    _switch(provider.id, target.id, losing, gaining, actor)
    after = _active_caps_of(loser_ids | {target.id})
    losers = {m.id: m for m in db.session.scalars(select(AIModel).where(AIModel.id.in_(loser_ids)))}
    activated = tuple(sort_capabilities(r.capability for r in gaining))
    _audit_activation(target, losers, losing, activated, before, after, actor)
    _touch(target, actor)
    invalidate_provider(provider.slug)
    for changed in (target, *losers.values()):
        db.session.expire(changed)
    return ActivationResult(
        target,
        requested,
        activated,
        tuple((losers[r.model_id], r.capability) for r in losing),
        tuple(losers[mid] for mid in sorted(loser_ids) if not after[mid]),
        provider_id=provider.id,
        deactivated_ids=tuple((r.model_id, r.capability) for r in losing),
    )


def _switch(provider_id: int, model_id: int, losing, gaining, actor) -> None:
    """Deactivate the losers first (the unique index is checked row by row), then
    activate ``model_id`` for the gained capabilities."""
    if losing:
        db.session.execute(
            update(ModelCapability)
            .where(
                ModelCapability.provider_id == provider_id,
                ModelCapability.capability.in_([r.capability for r in losing]),
                ModelCapability.model_id.in_({r.model_id for r in losing}),
            )
            .values(is_active=False, activated_at=None, activated_by_id=None)
        )
    db.session.execute(
        update(ModelCapability)
        .where(
            ModelCapability.model_id == model_id,
            ModelCapability.capability.in_([r.capability for r in gaining]),
        )
        .values(is_active=True, activated_at=utcnow(), activated_by_id=getattr(actor, "id", None))
    )
    # A live model is never its own split arm or fallback (traffic policies).
    routing.leave_routing(provider_id, [r.capability for r in gaining], model_id)


def _audit_activation(target, losers, losing, activated, before, after, actor) -> None:
    """One event for the activated model and one per model that lost a capability,
    all in one batch."""
    batch = audit.new_batch()
    deactivated = [
        {
            "model_id": r.model_id,
            "model": losers[r.model_id].display_name,
            "capability": r.capability,
        }
        for r in losing
    ]
    audit.record(
        "model.activate",
        target,
        actor=actor,
        before={"active_capabilities": before[target.id]},
        after={
            "active_capabilities": after[target.id],
            "activated": list(activated),
            "deactivated": deactivated,
        },
        batch=batch,
    )
    caused_by = {"model_id": target.id, "model": target.display_name}
    for loser_id in sorted(losers):
        audit.record(
            "model.deactivate",
            losers[loser_id],
            actor=actor,
            before={"active_capabilities": before[loser_id]},
            after={"active_capabilities": after[loser_id], "caused_by": caused_by},
            batch=batch,
        )


@transactional(idempotent=True)
def deactivate(
    model: AIModel | int, capabilities: Iterable[str] | None = None, *, actor=None
) -> DeactivationResult:
    """Take ``model`` off ``capabilities`` (None: all); each group it held is left empty."""
    provider, target = locked_model(model)
    requested = _requested(target, capabilities)
    rows = lock_groups(provider.id, requested)
    losing = sorted(r.capability for r in rows if r.model_id == target.id and r.is_active)
    if not losing:
        return DeactivationResult(target, requested, (), provider_id=provider.id)
    before = target.active_capabilities
    db.session.execute(
        update(ModelCapability)
        .where(ModelCapability.model_id == target.id, ModelCapability.capability.in_(losing))
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
    return DeactivationResult(target, requested, deactivated, provider_id=provider.id)


@transactional(idempotent=True)
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
