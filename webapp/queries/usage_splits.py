"""A split's arms side by side (docs/CONTRACTS.md §9, §10): for every group with a split,
its live model (the control arm, with the share the arms leave) and each arm, with their
calls, errors, latency and tokens over the usage page's range, from the hourly rollups."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import ACTIVE_ROW, AIModel, ModelCapability, Provider, RoutingSplit
from webapp.queries import usage

# The metering's routes of a split's traffic (webapp/ai/routing.py, webapp/ai/policies.py).
LIVE, SPLIT = "live", "split"


@dataclass
class ArmUsage:
    model_pk: int
    model_id: str  # as sent to the provider (the metering's ``model``)
    name: str
    percent: int
    live: bool  # the live model: the split's control arm, with the share the arms leave
    calls: int = 0
    errors: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.calls if self.calls else None


@dataclass
class SplitUsage:
    provider_id: int
    provider_slug: str
    provider_name: str
    capability: str
    arms: list[ArmUsage] = field(default_factory=list)


def split_usage(q) -> list[SplitUsage]:
    """Every group with a split that ``q``'s provider and capability filters admit (all of
    them without filters), its live model first then its arms, each with its calls over
    ``q``'s range: the live model's live calls and each arm's split calls (not calls made
    to it explicitly or as a fallback). Three queries."""
    splits = _splits_with_arms(q)
    if not splits:
        return []
    _put_live_models_first(splits)
    _fill_totals(q, splits)
    return list(splits.values())


def _splits_with_arms(q) -> dict[tuple[int, str], SplitUsage]:
    """The groups with a split that ``q``'s filters admit, by (provider id, capability),
    each with its arms in order and no calls yet."""
    c = RoutingSplit
    stmt = (
        select(
            c.provider_id,
            c.capability,
            c.percent,
            Provider.slug,
            Provider.name,
            AIModel.id,
            AIModel.model_id,
            AIModel.display_name,
        )
        .join(Provider, Provider.id == c.provider_id)
        .join(AIModel, AIModel.id == c.model_id)
        .order_by(Provider.name, c.capability, c.position)
    )
    if q.provider:
        stmt = stmt.where(Provider.slug == q.provider)
    if q.capability:
        stmt = stmt.where(c.capability == q.capability)
    splits: dict[tuple[int, str], SplitUsage] = {}
    for row in db.session.execute(stmt):
        key = (row.provider_id, row.capability)
        split = splits.get(key)
        if split is None:
            split = splits[key] = SplitUsage(row.provider_id, row.slug, row.name, row.capability)
        split.arms.append(ArmUsage(row.id, row.model_id, row.display_name, row.percent, False))
    return splits


def _put_live_models_first(splits: dict[tuple[int, str], SplitUsage]) -> None:
    """Put each group's live model before its arms, with the share the arms leave it."""
    live = db.session.execute(
        select(
            ModelCapability.provider_id,
            ModelCapability.capability,
            AIModel.id,
            AIModel.model_id,
            AIModel.display_name,
        )
        .join(AIModel, AIModel.id == ModelCapability.model_id)
        .where(ACTIVE_ROW, ModelCapability.provider_id.in_({k[0] for k in splits}))
    )
    for provider_id, capability, pk, model_id, name in live:
        split = splits.get((provider_id, capability))
        if split is not None:
            share = 100 - sum(a.percent for a in split.arms)
            split.arms.insert(0, ArmUsage(pk, model_id, name, share, True))


def _fill_totals(q, splits: dict[tuple[int, str], SplitUsage]) -> None:
    """Give each model its calls over ``q``'s range: the live model's live calls, an arm's
    split calls."""
    found = usage.arm_totals(
        q, [(s.provider_slug, s.capability) for s in splits.values()], LIVE, SPLIT
    )
    for split in splits.values():
        for arm in split.arms:
            route = LIVE if arm.live else SPLIT
            totals = found.get((split.provider_slug, split.capability, arm.model_id, route))
            if totals:
                for name, value in totals.items():
                    setattr(arm, name, value)
