"""Writing the audit trail. Called by operations inside their transaction."""

from __future__ import annotations

import uuid
from typing import NamedTuple

from sqlalchemy import insert

from webapp.extensions import db
from webapp.models import AuditEvent, utcnow


class Actor(NamedTuple):
    """Who acts, as plain values: reading them never costs a query."""

    id: int | None
    username: str


def new_batch() -> str:
    return uuid.uuid4().hex


def plain_actor(actor):
    """An admin (or any object with ``id`` and ``username``) as an ``Actor``; anything
    else (None, "cli", an ``Actor``) as it is."""
    if actor is None or isinstance(actor, str | Actor) or not hasattr(actor, "username"):
        return actor
    return Actor(getattr(actor, "id", None), actor_name(actor))


def actor_name(actor) -> str:
    if actor is None:
        return "system"
    return getattr(actor, "username", None) or str(actor)


def record(action: str, target, **details) -> AuditEvent:
    """Add one audit event to the current transaction and return it; ``details`` are
    ``values_of``'s keywords (actor, before, after, batch, target_type, target_repr)."""
    event = AuditEvent(**values_of(action, target, **details))
    db.session.add(event)
    return event


def values_of(
    action: str,
    target,
    *,
    actor=None,
    before: dict | None = None,
    after: dict | None = None,
    batch: str = "",
    target_type: str | None = None,
    target_repr: str | None = None,
) -> dict:
    """One audit event's column values (``record``'s arguments)."""
    return {
        "actor_id": getattr(actor, "id", None),
        "actor_name": actor_name(actor),
        "action": action,
        "target_type": target_type or type(target).__name__.lower(),
        "target_id": getattr(target, "id", None),
        "target_repr": (target_repr if target_repr is not None else _repr(target))[:300],
        "before": before,
        "after": after,
        "batch": batch,
    }


def record_all(events: list[dict]) -> None:
    """Write several events (``values_of``) in one statement, in this order; the
    session's pending objects are flushed first, so earlier events keep lower ids."""
    if not events:
        return
    db.session.flush()
    now = utcnow()
    db.session.execute(insert(AuditEvent), [{"created_at": now, **e} for e in events])


def _repr(target) -> str:
    for attr in ("display_name", "name", "username", "slug"):
        value = getattr(target, attr, None)
        if value:
            return str(value)
    return str(target)
