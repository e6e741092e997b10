"""Writing the audit trail. Called by operations inside their transaction."""

from __future__ import annotations

import uuid

from webapp.extensions import db
from webapp.models import AuditEvent


def new_batch() -> str:
    return uuid.uuid4().hex


def actor_name(actor) -> str:
    if actor is None:
        return "system"
    return getattr(actor, "username", None) or str(actor)


def record(
    action: str,
    target,
    *,
    actor=None,
    before: dict | None = None,
    after: dict | None = None,
    batch: str = "",
    target_type: str | None = None,
    target_repr: str | None = None,
) -> AuditEvent:
    """Add one audit event to the current transaction and return it."""
    event = AuditEvent(
        actor_id=getattr(actor, "id", None),
        actor_name=actor_name(actor),
        action=action,
        target_type=target_type or type(target).__name__.lower(),
        target_id=getattr(target, "id", None),
        target_repr=(target_repr if target_repr is not None else _repr(target))[:300],
        before=before,
        after=after,
        batch=batch,
    )
    db.session.add(event)
    return event


def _repr(target) -> str:
    for attr in ("display_name", "name", "username", "slug"):
        value = getattr(target, attr, None)
        if value:
            return str(value)
    return str(target)
