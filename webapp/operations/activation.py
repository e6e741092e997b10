"""Activation: one live model per (provider, capability), docs/CONTRACTS.md §1.

Every change runs in one transaction (``@transactional``) that takes the locks
``operations.locks`` describes: the provider row, then the capability rows it will
touch. Every writer takes them in the same order, so two admins queue instead of
deadlocking, and the partial unique index makes any path that skips this fail
loudly rather than break the rule.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from webapp import messages
from webapp.capabilities import is_capability, sort_capabilities
from webapp.db import transactional
from webapp.errors import ValidationError
from webapp.extensions import db
from webapp.models import (
    ACTIVE_ROW,
    AIModel,
    ModelCapability,
    RoutingFallback,
    RoutingSplit,
    utcnow,
)
from webapp.operations import audit, routing
from webapp.operations.locks import (
    get_model,
    group_rows,
    lock_groups,
    lock_provider,
    lock_provider_of_model,
    locked_model,
    model_id_of,
)
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


def preview(model: AIModel | int, capabilities: Iterable[str] | None = None) -> Preview:
    """What ``activate`` would deactivate, without writing or locking anything."""
    target = get_model(model_id_of(model), fresh=True)
    requested = _requested(target, capabilities)
    conflicts = conflicts_for(target.provider_id, requested, exclude_model_id=target.id)
    return Preview(target, requested, tuple(conflicts))


def _by_group(rows: Iterable[ModelCapability]) -> list[ModelCapability]:
    """Rows in lock order, (capability, model_id): how results and audits list them."""
    return sorted(rows, key=lambda r: (r.capability, r.model_id))


def activate(
    model: AIModel | int,
    capabilities: Iterable[str] | None = None,
    *,
    actor=None,
    provider_id: int | None = None,
) -> ActivationResult:
    """Make ``model`` the live model for ``capabilities`` (None: all of its own).

    Each other model that held one of them loses it, in the same transaction. With
    ``provider_id`` the model must belong to that provider. The actor's id and name are
    read before the transaction begins: committing the caller's read transaction would
    expire a loaded admin, and reading it again would cost a query.
    """
    return _activate(model_id_of(model), capabilities, audit.plain_actor(actor), provider_id)


@transactional(idempotent=True)
def _activate(model_id: int, capabilities, actor, provider_id: int | None) -> ActivationResult:
    provider = lock_provider_of_model(model_id, provider_id)
    requested = _known_capabilities(capabilities)
    rows, routed, models, before = _lock_switch_groups(provider.id, requested, model_id)
    if requested is None:  # all of the model's own: what the locked rows say it has
        requested = tuple(sort_capabilities({r.capability for r in rows if r.model_id == model_id}))
    _check_has(model_id, requested, rows)
    losing = _by_group(
        r for r in rows if r.is_active and r.model_id != model_id and r.capability in requested
    )
    gaining = [r for r in rows if r.model_id == model_id and not r.is_active]
    loser_ids = {r.model_id for r in losing}
    if model_id not in models:  # no capability asked for: no row of its own was locked
        models, before = _models_and_active({model_id})
    target = models[model_id]
    if not gaining:
        return ActivationResult(target, requested, (), (), (), provider_id=provider.id)
    _switch(provider.id, model_id, losing, gaining, actor, routed)
    activated = tuple(sort_capabilities(r.capability for r in gaining))
    lost = {(r.model_id, r.capability) for r in losing}
    after = {mid: [c for c in caps if (mid, c) not in lost] for mid, caps in before.items()}
    after[model_id] = sort_capabilities({*before[model_id], *activated})
    losers = {mid: models[mid] for mid in loser_ids}
    _audit_activation(target, losers, losing, activated, before, after, actor)
    _touch(target, actor)
    invalidate_provider(provider.slug)
    for changed in models.values():
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


def _known_capabilities(capabilities: Iterable[str] | None) -> tuple[str, ...] | None:
    """The capabilities asked for, known ones only (None stays None: all of the model's
    own). Whether the model has them is checked on the locked rows."""
    if capabilities is None:
        return None
    caps = [capabilities] if isinstance(capabilities, str) else list(capabilities)
    unknown = [c for c in caps if not is_capability(c)]
    if unknown:
        raise ValidationError(
            _l("Unknown capability: %(value)s", value=", ".join(map(str, unknown))),
            field="capabilities",
        )
    return tuple(sort_capabilities(set(caps)))


def _check_has(model_id: int, requested: tuple[str, ...], rows) -> None:
    own = {r.capability for r in rows if r.model_id == model_id}
    missing = [c for c in requested if c not in own]
    if missing:
        raise ValidationError(
            _l("This model does not have the capability %(value)s.", value=", ".join(missing)),
            field="capabilities",
        )


# The switch's statements are built once per process with bound parameters: building a
# statement (and its cache key) cost about as much Python as running it.


@functools.cache
def _lock_statement(own: bool):
    """The groups' rows, locked in order, with whether the model is an arm or a fallback
    there; beside each row of the model and of a live one, that model (refreshed) and its
    active capabilities in every group (what the audit's "before" says). The provider's
    lock is held already, so no other change to its rows can slip in between. ``own``:
    the groups of every capability the model has (``:caps`` otherwise)."""
    provider_id, model_id = bindparam("provider_pk"), bindparam("model_pk")
    if own:
        caps = select(ModelCapability.capability).where(ModelCapability.model_id == model_id)
    else:
        caps = bindparam("caps", expanding=True)
    routed = or_(
        *(
            exists().where(
                table.provider_id == provider_id,
                table.capability.in_(caps),
                table.model_id == model_id,
            )
            for table in (RoutingFallback, RoutingSplit)
        )
    )
    active_caps = aliased(ModelCapability)
    live = (
        select(func.aggregate_strings(active_caps.capability, ","))
        .where(active_caps.model_id == AIModel.id, active_caps.is_active)
        .scalar_subquery()
    )
    involved = and_(
        AIModel.id == ModelCapability.model_id,
        or_(ModelCapability.is_active, ModelCapability.model_id == model_id),
    )
    return (
        group_rows(provider_id, caps)
        .add_columns(routed.label("routed"), AIModel, live)
        .outerjoin(AIModel, involved)
        .with_for_update(of=ModelCapability)
        .execution_options(populate_existing=True)
    )


def _lock_switch_groups(provider_id: int, caps: tuple[str, ...] | None, model_id: int):
    """``lock_groups`` in the same statement as whether ``model_id`` is an arm or a
    fallback in those groups (then the switch takes it out of routing), and the models
    of the live rows and of ``model_id`` with their active capabilities. ``caps`` None:
    the groups of every capability the model has, found by the same statement. Returns
    (rows, routed, models, active capabilities by model)."""
    params = {"provider_pk": provider_id, "model_pk": model_id}
    if caps is not None:
        params["caps"] = list(caps)
    found = db.session.execute(_lock_statement(caps is None), params).all()
    models: dict[int, AIModel] = {}
    active: dict[int, list[str]] = {}
    for _row, _routed, model, live in found:
        if model is not None:
            models[model.id] = model
            active[model.id] = sort_capabilities(live.split(",") if live else [])
    routed = any(row[1] for row in found)
    return [row[0] for row in found], routed, models, active


@functools.cache
def _models_statement():
    return (
        select(AIModel, ModelCapability.capability)
        .outerjoin(ModelCapability, and_(ModelCapability.model_id == AIModel.id, ACTIVE_ROW))
        .where(AIModel.id.in_(bindparam("ids", expanding=True)))
        .execution_options(populate_existing=True)
    )


def _models_and_active(ids: set[int]) -> tuple[dict[int, AIModel], dict[int, list[str]]]:
    """The models and their active capabilities, in one query (populate_existing: the
    caller's copies are refreshed under the lock)."""
    found = db.session.execute(_models_statement(), {"ids": sorted(ids)})
    models: dict[int, AIModel] = {}
    active: dict[int, list[str]] = {}
    for model, cap in found:
        models[model.id] = model
        active.setdefault(model.id, [])
        if cap is not None:
            active[model.id].append(cap)
    return models, {mid: sort_capabilities(caps) for mid, caps in active.items()}


@functools.cache
def _switch_statements():
    """(deactivate the losers, activate the model): Core UPDATEs of the table, without
    the ORM's bulk-update machinery or its evaluation of their criteria over the session
    (``_expire_switched`` instead)."""
    rows = ModelCapability.__table__.c
    caps = bindparam("caps", expanding=True)
    off = (
        update(ModelCapability.__table__)
        .where(
            rows.provider_id == bindparam("provider_pk"),
            rows.capability.in_(caps),
            rows.model_id.in_(bindparam("ids", expanding=True)),
        )
        .values(is_active=False, activated_at=None, activated_by_id=None)
    )
    on = (
        update(ModelCapability.__table__)
        .where(rows.model_id == bindparam("model_pk"), rows.capability.in_(caps))
        .values(is_active=True, activated_at=bindparam("when"), activated_by_id=bindparam("by"))
    )
    return off, on


def _switch(provider_id: int, model_id: int, losing, gaining, actor, routed: bool = True) -> None:
    """Deactivate the losers first (the unique index is checked row by row), then
    activate ``model_id`` for the gained capabilities."""
    off, on = _switch_statements()
    if losing:
        db.session.execute(
            off,
            {
                "provider_pk": provider_id,
                "caps": sorted({r.capability for r in losing}),
                "ids": sorted({r.model_id for r in losing}),
            },
        )
    db.session.execute(
        on,
        {
            "model_pk": model_id,
            "caps": [r.capability for r in gaining],
            "when": utcnow(),
            "by": getattr(actor, "id", None),
        },
    )
    _expire_switched({(r.model_id, r.capability) for r in (*losing, *gaining)})
    # A live model is never its own split arm or fallback (traffic policies).
    if routed:
        routing.leave_routing(provider_id, [r.capability for r in gaining], model_id)


def _expire_switched(keys: set[tuple[int, str]]) -> None:
    """The rows the UPDATEs changed, as this session holds them, are expired: a later
    read in the same transaction reloads them. (SQLAlchemy's own synchronisation
    evaluates each UPDATE's criteria against every row of the session: a tenth of a
    switch's CPU.)"""
    for (cls, key, _token), row in list(db.session.identity_map.items()):
        if cls is ModelCapability and tuple(key) in keys:
            db.session.expire(row, ["is_active", "activated_at", "activated_by_id"])


def _audit_activation(target, losers, losing, activated, before, after, actor) -> None:
    """One event for the activated model and one per model that lost a capability,
    all in one batch, written in one statement."""
    batch = audit.new_batch()
    deactivated = [
        {
            "model_id": r.model_id,
            "model": losers[r.model_id].display_name,
            "capability": r.capability,
        }
        for r in losing
    ]
    events = [
        audit.values_of(
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
    ]
    caused_by = {"model_id": target.id, "model": target.display_name}
    for loser_id in sorted(losers):
        events.append(
            audit.values_of(
                "model.deactivate",
                losers[loser_id],
                actor=actor,
                before={"active_capabilities": before[loser_id]},
                after={"active_capabilities": after[loser_id], "caused_by": caused_by},
                batch=batch,
            )
        )
    audit.record_all(events)


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


@functools.cache
def _touch_statement():
    table = AIModel.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("model_pk"))
        .values(updated_at=bindparam("when"), updated_by_id=bindparam("by"))
    )


def _touch(model: AIModel, actor) -> None:
    """Stamp the model as edited by ``actor`` (the caller expires it afterwards)."""
    params = {"model_pk": model.id, "when": utcnow(), "by": getattr(actor, "id", None)}
    db.session.execute(_touch_statement(), params)
