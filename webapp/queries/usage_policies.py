"""The overview's view of a group's traffic policies (docs/CONTRACTS.md §9): the next
pending scheduled switch, the split arms and the fallbacks."""

from __future__ import annotations

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import AIModel, Schedule
from webapp.queries import policies


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


def attach(rows: list) -> None:
    """Fill ``next_switch``, ``split`` and ``fallbacks`` of the overview's rows (the split
    and the fallbacks as the models page reads them: ``policies.for_group``)."""
    if not rows:
        return
    nexts = _next_switches()
    for row in rows:
        key = (row.group.provider.id, row.group.capability)
        row.next_switch = nexts.get(key)
        group = policies.for_group(*key)
        row.split = [{"model": a.display_name, "percent": a.percent} for a in group.split]
        row.fallbacks = [f.display_name for f in group.fallbacks]
