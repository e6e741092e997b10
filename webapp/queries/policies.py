"""The read side of a group's traffic policies (docs/CONTRACTS.md §9) for the dashboard:
its next pending scheduled switch, its fallbacks and its split arms.

The models page shows them on every group; ``for_group`` loads them for every group of
the page at once (three queries per request, whatever the number of groups) and keeps
the answer for the rest of the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import has_request_context, request
from sqlalchemy import false, literal_column, null, select, union_all

from webapp.dates import as_utc
from webapp.extensions import db
from webapp.models import AIModel, Provider, RoutingFallback, RoutingSplit, Schedule
from webapp.operations.schedules import PENDING


@dataclass(frozen=True)
class PendingSwitch:
    """A pending scheduled switch, as the group shows it."""

    id: int
    model_name: str
    clears: bool
    after_calls: int | None
    run_at: datetime


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
    next_schedule: PendingSwitch | None = None
    pending_count: int = 0
    fallbacks: list[Fallback] = field(default_factory=list)
    split: list[SplitArm] = field(default_factory=list)

    @property
    def live_share(self) -> int:
        """The live model's percent of the calls (the rest of the arms' percents)."""
        return 100 - sum(arm.percent for arm in self.split)


SCHEDULE, FALLBACK, ARM = "s", "f", "a"


def _statement():
    """Every group's pending switches, fallbacks and arms in one statement (the models
    page's query count must not grow with its features): one row shape for the three."""
    schedules = select(
        literal_column(f"'{SCHEDULE}'").label("kind"),
        Schedule.provider_id,
        Schedule.capability,
        Schedule.model_name.label("name"),
        literal_column("''").label("other"),
        Schedule.after_calls.label("number"),
        Schedule.clears,
        Schedule.run_at,
        Schedule.id.label("ident"),
    ).where(Schedule.status == PENDING)
    fallbacks = (
        select(
            literal_column(f"'{FALLBACK}'"),
            RoutingFallback.provider_id,
            RoutingFallback.capability,
            AIModel.display_name,
            Provider.name,
            AIModel.provider_id,
            false(),
            null(),
            AIModel.id,
        )
        .join(AIModel, AIModel.id == RoutingFallback.model_id)
        .join(Provider, Provider.id == AIModel.provider_id)
    )
    arms = select(
        literal_column(f"'{ARM}'"),
        RoutingSplit.provider_id,
        RoutingSplit.capability,
        AIModel.display_name,
        literal_column("''"),
        RoutingSplit.percent,
        false(),
        null(),
        AIModel.id,
    ).join(AIModel, AIModel.id == RoutingSplit.model_id)
    return schedules, fallbacks, arms


def _load() -> dict[tuple[int, str], GroupPolicies]:
    found: dict[tuple[int, str], GroupPolicies] = {}

    def of(provider_id: int, capability: str) -> GroupPolicies:
        key = (provider_id, capability)
        return found.setdefault(key, GroupPolicies(provider_id, capability))

    schedules, fallbacks, arms = _statement()
    # The routing rows keep their position order: sort by it inside the union.
    ordered = union_all(
        schedules.add_columns(literal_column("0").label("position")),
        fallbacks.add_columns(RoutingFallback.position),
        arms.add_columns(RoutingSplit.position),
    )
    rows = db.session.execute(ordered).all()
    pending = sorted(
        (r for r in rows if r.kind == SCHEDULE),
        key=lambda r: (r.number is not None, _aware(r.run_at), r.ident),
    )
    for r in pending:
        policies = of(r.provider_id, r.capability)
        policies.pending_count += 1
        if policies.next_schedule is None:
            policies.next_schedule = PendingSwitch(
                r.ident, r.name, bool(r.clears), r.number, _aware(r.run_at)
            )
    for r in sorted((r for r in rows if r.kind != SCHEDULE), key=lambda r: r.position):
        policies = of(r.provider_id, r.capability)
        if r.kind == FALLBACK:
            same = r.number == r.provider_id
            policies.fallbacks.append(Fallback(r.ident, r.name, r.other, same))
        else:
            policies.split.append(SplitArm(r.ident, r.name, r.number))
    return found


def _aware(value) -> datetime:
    """The union's rows come back without the column type's conversion on some
    backends: an ISO string or a naive UTC value becomes an aware UTC instant."""
    return as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


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
