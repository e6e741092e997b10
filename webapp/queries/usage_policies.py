"""The overview's view of a group's traffic policies (docs/CONTRACTS.md §9): the next
pending scheduled switch, the split arms and the fallbacks."""

from __future__ import annotations

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import AIModel, RoutingFallback, RoutingSplit, Schedule


def _next_switches() -> dict[tuple[int, str], dict]:
    c = Schedule
    first = (
        select(c.provider_id, c.capability, func.min(c.run_at).label("run_at"))
        .where(c.status == "pending")
        .group_by(c.provider_id, c.capability)
        .subquery()
    )
    stmt = (
        select(c.provider_id, c.capability, c.run_at, c.model_id, AIModel.display_name)
        .join(
            first,
            (first.c.provider_id == c.provider_id)
            & (first.c.capability == c.capability)
            & (first.c.run_at == c.run_at),
        )
        .outerjoin(AIModel, AIModel.id == c.model_id)
        .where(c.status == "pending")
    )
    return {
        (r.provider_id, r.capability): {
            "run_at": r.run_at,
            "model": r.display_name,  # None: the switch leaves the group with no live model
        }
        for r in db.session.execute(stmt)
    }


def _arms(c: type[RoutingSplit | RoutingFallback], *extra) -> dict[tuple[int, str], list]:
    stmt = (
        select(c.provider_id, c.capability, AIModel.display_name, *extra)
        .join(AIModel, AIModel.id == c.model_id)
        .order_by(c.provider_id, c.capability, c.position)
    )
    found: dict[tuple[int, str], list] = {}
    for row in db.session.execute(stmt):
        found.setdefault((row.provider_id, row.capability), []).append(row)
    return found


def attach(rows: list) -> None:
    """Fill ``next_switch``, ``split`` and ``fallbacks`` of the overview's rows."""
    if not rows:
        return
    nexts = _next_switches()
    splits = _arms(RoutingSplit, RoutingSplit.percent)
    fallbacks = _arms(RoutingFallback)
    for row in rows:
        key = (row.group.provider.id, row.group.capability)
        row.next_switch = nexts.get(key)
        row.split = [{"model": a.display_name, "percent": a.percent} for a in splits.get(key, [])]
        row.fallbacks = [a.display_name for a in fallbacks.get(key, [])]
