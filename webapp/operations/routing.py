"""The routing of a group (docs/CONTRACTS.md §9): its fallbacks and its split arms.

A fallback is any model, of any provider, that has the group's capability; a split
arm is another model of the same group with 1–50 percent, the arms together at most
90 so the live model always keeps a share. Neither is ever the live model: activating
a model takes it out of its group's routing (``leave_routing``, called by activation).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from webapp.capabilities import is_capability
from webapp.db import transactional
from webapp.errors import ValidationError
from webapp.extensions import db
from webapp.models import (
    ACTIVE_ROW,
    AIModel,
    ModelCapability,
    RoutingFallback,
    RoutingSplit,
)
from webapp.operations import audit
from webapp.operations.locks import lock_provider
from webapp.queries.lookup import invalidate_provider

MIN_PERCENT, MAX_PERCENT, MAX_TOTAL = 1, 50, 90
MAX_FALLBACKS = 10


@dataclass(frozen=True)
class Arm:
    model_id: int
    percent: int


@dataclass(frozen=True)
class Routing:
    fallbacks: tuple[int, ...]
    split: tuple[Arm, ...]

    def as_json(self) -> dict:
        return {
            "fallbacks": list(self.fallbacks),
            "split": [{"model": a.model_id, "percent": a.percent} for a in self.split],
        }


def get_routing(provider_id: int, capability: str) -> Routing:
    """The group's fallbacks and split, in their order."""
    return Routing(fallbacks_of(provider_id, capability), split_of(provider_id, capability))


def fallbacks_of(provider_id: int, capability: str) -> tuple[int, ...]:
    return tuple(
        db.session.scalars(
            select(RoutingFallback.model_id)
            .where(
                RoutingFallback.provider_id == provider_id,
                RoutingFallback.capability == capability,
            )
            .order_by(RoutingFallback.position)
        )
    )


def split_of(provider_id: int, capability: str) -> tuple[Arm, ...]:
    """The split's arms in order: one indexed query (every live call asks it)."""
    rows = db.session.execute(
        select(RoutingSplit.model_id, RoutingSplit.percent)
        .where(RoutingSplit.provider_id == provider_id, RoutingSplit.capability == capability)
        .order_by(RoutingSplit.position)
    )
    return tuple(Arm(m, p) for m, p in rows)


def _live_model_id(provider_id: int, capability: str) -> int | None:
    return db.session.scalar(
        select(ModelCapability.model_id).where(
            ModelCapability.provider_id == provider_id,
            ModelCapability.capability == capability,
            ACTIVE_ROW,
        )
    )


def _capable(model_ids: list[int], capability: str) -> dict[int, int]:
    """{model id: provider id} of those models that have ``capability``."""
    if not model_ids:
        return {}
    rows = db.session.execute(
        select(ModelCapability.model_id, ModelCapability.provider_id).where(
            ModelCapability.model_id.in_(model_ids), ModelCapability.capability == capability
        )
    )
    return dict(rows.all())


def _check_fallbacks(fallbacks: list[int], capability: str, live: int | None) -> list:
    problems = []
    if len(fallbacks) > MAX_FALLBACKS:
        problems.append(_l("At most %(count)d fallbacks are allowed.", count=MAX_FALLBACKS))
    if len(set(fallbacks)) != len(fallbacks):
        problems.append(_l("A model appears more than once among the fallbacks."))
    capable = _capable(fallbacks, capability)
    for model_id in fallbacks:
        if model_id not in capable:
            problems.append(
                _l(
                    "Model %(id)d does not exist or lacks this capability.",
                    id=model_id,
                )
            )
        elif model_id == live:
            problems.append(_l("The live model cannot be its own fallback."))
    return problems


def _check_split(split: list[Arm], provider_id: int, capability: str, live: int | None) -> list:
    problems = []
    ids = [arm.model_id for arm in split]
    if len(set(ids)) != len(ids):
        problems.append(_l("A model appears more than once in the split."))
    capable = _capable(ids, capability)
    for arm in split:
        if capable.get(arm.model_id) != provider_id:
            problems.append(_l("Model %(id)d is not a model of this group.", id=arm.model_id))
        elif arm.model_id == live:
            problems.append(_l("The live model cannot be a split arm; it gets the rest."))
        if not MIN_PERCENT <= arm.percent <= MAX_PERCENT:
            problems.append(
                _l(
                    "Each arm takes from %(low)d to %(high)d percent.",
                    low=MIN_PERCENT,
                    high=MAX_PERCENT,
                )
            )
    if sum(arm.percent for arm in split) > MAX_TOTAL:
        problems.append(
            _l("The arms together may take at most %(total)d percent.", total=MAX_TOTAL)
        )
    return problems


@transactional
def set_routing(
    provider_id: int, capability: str, fallbacks: list[int], split: list[Arm], *, actor=None
) -> Routing:
    """Replace the group's routing; a ValidationError (nothing written) on any problem."""
    if not is_capability(capability):
        raise ValidationError(
            _l("Unknown capability: %(value)s", value=capability), field="capability"
        )
    provider = lock_provider(provider_id)
    live = _live_model_id(provider_id, capability)
    errors = {}
    if problems := _check_fallbacks(fallbacks, capability, live):
        errors["fallbacks"] = [str(p) for p in problems]
    if problems := _check_split(split, provider_id, capability, live):
        errors["split"] = [str(p) for p in dict.fromkeys(str(p) for p in problems)]
    if errors:
        raise ValidationError(_l("The routing is not valid."), errors=errors)
    before = get_routing(provider_id, capability)
    _clear(provider_id, capability)
    group = {"provider_id": provider_id, "capability": capability}
    db.session.add_all(
        [RoutingFallback(**group, position=i, model_id=m) for i, m in enumerate(fallbacks)]
        + [
            RoutingSplit(**group, position=i, model_id=arm.model_id, percent=arm.percent)
            for i, arm in enumerate(split)
        ]
    )
    db.session.flush()
    after = get_routing(provider_id, capability)
    if after != before:
        audit.record(
            "routing.update",
            provider,
            actor=actor,
            before=before.as_json(),
            after=after.as_json(),
            target_repr=f"{provider.name} · {capability}",
        )
        invalidate_provider(provider.slug)
    return after


def _clear(provider_id: int, capability: str) -> None:
    for table in (RoutingFallback, RoutingSplit):
        db.session.execute(
            delete(table).where(table.provider_id == provider_id, table.capability == capability)
        )


def leave_routing(provider_id: int, capabilities, model_id: int) -> None:
    """``model_id`` became live for ``capabilities``: it stops being their arm or fallback.

    Runs inside the activation's transaction, so promoting an arm ends its share at once.
    """
    for table in (RoutingFallback, RoutingSplit):
        db.session.execute(
            delete(table).where(
                table.provider_id == provider_id,
                table.capability.in_(list(capabilities)),
                table.model_id == model_id,
            )
        )


def model_names(model_ids) -> dict[int, AIModel]:
    ids = set(model_ids)
    if not ids:
        return {}
    return {m.id: m for m in db.session.scalars(select(AIModel).where(AIModel.id.in_(ids)))}
