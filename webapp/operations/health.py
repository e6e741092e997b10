"""Health checks of live groups: the providers page's test connection
(``webapp.ai.calls.check_connection``) run for one group («بررسی اکنون» on the overview)
or for every live group (the scheduler's periodic check), its result kept in
``health_check`` (one row per group, replaced by each check).

The provider is called outside any transaction; only the result's write is one.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from webapp.ai import calls
from webapp.db import transactional
from webapp.errors import NotFound
from webapp.extensions import db
from webapp.models import ACTIVE_ROW, AIModel, HealthCheck, ModelCapability, Provider, utcnow

MESSAGE_MAX = 500
CHECK_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class LiveGroup:
    provider_id: int
    slug: str
    capability: str
    model: str  # the live model's display name


def live_groups(provider_id: int | None = None, capability: str | None = None) -> list[LiveGroup]:
    """Every group of an enabled provider that has a live model (or just the one asked)."""
    stmt = (
        select(Provider.id, Provider.slug, ModelCapability.capability, AIModel.display_name)
        .join(ModelCapability, ModelCapability.provider_id == Provider.id)
        .join(AIModel, AIModel.id == ModelCapability.model_id)
        .where(ACTIVE_ROW, Provider.is_enabled)
        .order_by(Provider.slug, ModelCapability.capability)
    )
    if provider_id is not None:
        stmt = stmt.where(Provider.id == provider_id)
    if capability is not None:
        stmt = stmt.where(ModelCapability.capability == capability)
    return [LiveGroup(*row) for row in db.session.execute(stmt)]


def check_group(provider_id: int, capability: str, *, actor=None) -> dict:
    """Test the connection of a live group with the key ``actor`` would use (the shared
    key for the scheduler) and keep the result. NotFound when the group has no live model."""
    found = live_groups(provider_id, capability)
    if not found:
        raise NotFound(_l("This group has no live model to check."))
    return _check(found[0], actor)


def check_all(*, actor=None) -> list[dict]:
    """Check every live group, one provider call per group; returns the results."""
    return [_check(group, actor) for group in live_groups()]


def _check(group: LiveGroup, actor) -> dict:
    db.session.rollback()  # no read transaction held open while the provider answers
    result = calls.check_connection(group.slug, actor, timeout=CHECK_TIMEOUT_S)
    values = {
        "provider_id": group.provider_id,
        "capability": group.capability,
        "model": group.model[:200],
        "ok": result.ok,
        "latency_ms": int(result.latency_ms or 0),
        "error_kind": (result.error_kind or None) and result.error_kind[:32],
        "message": (result.message or "")[:MESSAGE_MAX],
        "checked_at": utcnow(),
        "checked_by_id": getattr(actor, "id", None),
    }
    _store(values)
    return values


@transactional
def _store(values: dict) -> None:
    # An upsert: two checks of one group at once both land, the later one wins.
    dialect = db.session.get_bind().dialect.name
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(HealthCheck)
    keys = ("provider_id", "capability")
    db.session.execute(
        stmt.values(values).on_conflict_do_update(
            index_elements=list(keys),
            set_={k: stmt.excluded[k] for k in values if k not in keys},
        )
    )
