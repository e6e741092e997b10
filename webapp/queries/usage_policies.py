"""The overview's view of a group's traffic policies (docs/CONTRACTS.md §9): the next
pending scheduled switch, the split arms and the fallbacks.

Read through the tables' names (``schedule``, ``routing_split``, ``routing_fallback``) and
only when they are part of the schema: the overview works the same without them.
"""

from __future__ import annotations

from sqlalchemy import Table, func, select

from webapp.extensions import db
from webapp.models import AIModel


def _table(name: str) -> Table | None:
    return db.metadata.tables.get(name)


def _next_switches(schedule: Table) -> dict[tuple[int, str], dict]:
    c = schedule.c
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


def _arms(arms: Table, *extra) -> dict[tuple[int, str], list]:
    c = arms.c
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
    schedule, split, fallback = (
        _table(n) for n in ("schedule", "routing_split", "routing_fallback")
    )
    if not rows:
        return
    nexts = _next_switches(schedule) if schedule is not None else {}
    splits = _arms(split, split.c.percent) if split is not None else {}
    fallbacks = _arms(fallback) if fallback is not None else {}
    for row in rows:
        key = (row.group.provider.id, row.group.capability)
        row.next_switch = nexts.get(key)
        row.split = [{"model": a.display_name, "percent": a.percent} for a in splits.get(key, [])]
        row.fallbacks = [a.display_name for a in fallbacks.get(key, [])]
