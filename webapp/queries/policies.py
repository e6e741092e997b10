"""The read side of a group's traffic policies (docs/CONTRACTS.md §9) for the dashboard:
its next pending scheduled switch, its fallbacks and its split arms.

The models page shows them on every group; ``for_group`` loads them for every group of
the page at once (three queries per request, whatever the number of groups) and keeps
the answer for the rest of the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import has_request_context, request
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AIModel, Provider, RoutingFallback, RoutingSplit, Schedule
from webapp.operations.schedules import PENDING


@dataclass(frozen=True)
class Fallback:
    model_id: int
    display_name: str
    provider_name: str
    same_provider: bool


@dataclass(frozen=True)
class SplitArm:
    model_id: int
    display_name: str
    percent: int


@dataclass
class GroupPolicies:
    provider_id: int
    capability: str
    next_schedule: Schedule | None = None
    pending_count: int = 0
    fallbacks: list[Fallback] = field(default_factory=list)
    split: list[SplitArm] = field(default_factory=list)

    @property
    def live_share(self) -> int:
        """The live model's percent of the calls (the rest of the arms' percents)."""
        return 100 - sum(arm.percent for arm in self.split)

    @property
    def empty(self) -> bool:
        return self.next_schedule is None and not self.fallbacks and not self.split


def _load() -> dict[tuple[int, str], GroupPolicies]:
    found: dict[tuple[int, str], GroupPolicies] = {}

    def of(provider_id: int, capability: str) -> GroupPolicies:
        key = (provider_id, capability)
        if key not in found:
            found[key] = GroupPolicies(provider_id, capability)
        return found[key]

    pending = db.session.scalars(
        select(Schedule)
        .where(Schedule.status == PENDING)
        .order_by(Schedule.after_calls.is_not(None), Schedule.run_at, Schedule.id)
    )
    for schedule in pending:
        policies = of(schedule.provider_id, schedule.capability)
        policies.pending_count += 1
        if policies.next_schedule is None:
            policies.next_schedule = schedule
    fallbacks = db.session.execute(
        select(
            RoutingFallback.provider_id,
            RoutingFallback.capability,
            AIModel.id,
            AIModel.display_name,
            Provider.name,
            AIModel.provider_id,
        )
        .join(AIModel, AIModel.id == RoutingFallback.model_id)
        .join(Provider, Provider.id == AIModel.provider_id)
        .order_by(RoutingFallback.position)
    )
    for group_provider, capability, model_id, name, provider_name, model_provider in fallbacks:
        of(group_provider, capability).fallbacks.append(
            Fallback(model_id, name, provider_name, model_provider == group_provider)
        )
    arms = db.session.execute(
        select(
            RoutingSplit.provider_id,
            RoutingSplit.capability,
            AIModel.id,
            AIModel.display_name,
            RoutingSplit.percent,
        )
        .join(AIModel, AIModel.id == RoutingSplit.model_id)
        .order_by(RoutingSplit.position)
    )
    for provider_id, capability, model_id, name, percent in arms:
        of(provider_id, capability).split.append(SplitArm(model_id, name, percent))
    return found


_KEY = "webapp.group_policies"


def for_group(provider_id: int, capability: str) -> GroupPolicies:
    """The group's policies, from the request's one load of every group's (kept in the
    request's environ: it dies with the request, whatever happens to the app context)."""
    store = request.environ if has_request_context() else {}
    loaded = store.get(_KEY)
    if loaded is None:
        loaded = store[_KEY] = _load()
    return loaded.get((provider_id, capability)) or GroupPolicies(provider_id, capability)


def forget() -> None:
    """A change was made in this request: the next ``for_group`` reads again."""
    if has_request_context():
        request.environ.pop(_KEY, None)
