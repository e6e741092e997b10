"""Traffic policies on the call path (docs/CONTRACTS.md §9): split, fallback, and a
per-model circuit breaker. ``routing.plan_call`` asks here; nothing here sends a call.

- **Split:** a call's bucket (0–99) is a stable hash of the end user's id (the request's
  ``user`` field, else the API token) and the group, so one user keeps one model while
  the split is unchanged. The arms take their percents in order, the rest stays live.
- **Fallback:** the group's fallbacks, in order, each a plan of its own provider with
  that provider's key by §2's priority; a fallback whose provider is disabled or gives
  this admin no key is left out.
- **Circuit breaker:** ``BREAKER_FAILURES`` failures of a model within
  ``BREAKER_WINDOW_S`` seconds open its circuit for ``BREAKER_COOL_DOWN_S`` seconds: the
  call then starts with the next candidate instead of waiting for a dead provider
  first. The state lives in the shared cache (Redis in production), so every worker
  sees it, within ``BREAKER_RECHECK_S`` (a worker re-reads a circuit at most that often
  rather than asking Redis on every call); the failure count is a best-effort
  read-modify-write, which a burst of simultaneous failures can only make open later,
  never wrongly.
"""

from __future__ import annotations

import hashlib
import time

from flask import current_app
from sqlalchemy import select

from webapp.cache import MISSING
from webapp.extensions import cache, db
from webapp.models import AIModel, Provider
from webapp.operations.routing import fallbacks_of

SPLIT = "split"
FALLBACK = "fallback"
BUCKETS = 100
BREAKER_FAILURES = 5
BREAKER_WINDOW_S = 30
BREAKER_COOL_DOWN_S = 30
BREAKER_RECHECK_S = 1.0


def bucket(sticky_key: str, provider: str, capability: str) -> int:
    """The user's bucket 0–99 for this group: stable across calls, workers and restarts."""
    digest = hashlib.sha256(f"{provider}\0{capability}\0{sticky_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def split_arm(arms, sticky_key: str, provider: str, capability: str) -> int | None:
    """The model id of the arm the key falls in, or None (the live model's share)."""
    point = bucket(sticky_key, provider, capability)
    edge = 0
    for arm in arms:
        edge += arm.percent
        if point < edge:
            return arm.model_id
    return None


def fallback_targets(provider_id: int, capability: str, make_target) -> list:
    """The group's fallbacks as targets (``make_target(slug, provider_id, base_url,
    model_id, pk)``), in order; those of a disabled provider are left out."""
    ids = fallbacks_of(provider_id, capability)
    if not ids:
        return []
    rows = db.session.execute(
        select(AIModel.id, AIModel.model_id, Provider.id, Provider.slug, Provider.base_url)
        .join(Provider, Provider.id == AIModel.provider_id)
        .where(AIModel.id.in_(ids), Provider.is_enabled)
    ).all()
    found = {row[0]: row for row in rows}
    return [
        make_target(found[i][3], found[i][2], found[i][4], found[i][1], i)
        for i in ids
        if i in found
    ]


# --- circuit breaker -------------------------------------------------------------------


def _failures_key(model_pk: int) -> str:
    return f"breaker:{model_pk}:failures"


def _open_key(model_pk: int) -> str:
    return f"breaker:{model_pk}:open"


def _seen() -> dict[int, tuple[float, bool]]:
    """What this process last read of each circuit: ``{model: (trusted until, open)}``."""
    return current_app.extensions.setdefault("breaker_seen", {})


def is_open(model_pk: int) -> bool:
    now = time.monotonic()
    seen = _seen()
    known = seen.get(model_pk)
    if known is not None and known[0] > now:
        return known[1]
    shut = cache.get(_open_key(model_pk)) is not MISSING
    seen[model_pk] = (now + BREAKER_RECHECK_S, shut)
    return shut


def record_failure(model_pk: int, now: float | None = None) -> bool:
    """Count a failure (unreachable, timeout, 5xx, 429); True when the circuit opens."""
    now = time.time() if now is None else now
    seen = cache.get(_failures_key(model_pk))
    recent = [t for t in (seen if isinstance(seen, list) else []) if now - t < BREAKER_WINDOW_S]
    recent.append(now)
    if len(recent) >= BREAKER_FAILURES:
        cache.set(_open_key(model_pk), now, BREAKER_COOL_DOWN_S)
        cache.delete_many([_failures_key(model_pk)])
        _seen()[model_pk] = (time.monotonic() + BREAKER_RECHECK_S, True)
        return True
    cache.set(_failures_key(model_pk), recent, BREAKER_WINDOW_S)
    return False


def ordered(candidates: list) -> list:
    """Candidates whose circuit is open go last (still tried if all else fails)."""
    flags = [(is_open(c.model_pk), c) for c in candidates]
    return [c for shut, c in flags if not shut] + [c for shut, c in flags if shut]
