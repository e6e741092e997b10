"""Every AI call leaves one audit event (``ai.call``) that the history page shows.

Recorded: who (the admin, or "system" for a background job), provider, model, capability,
operation, key source (personal/shared), outcome, latency in ms, error kind, HTTP status and
attempts. Never recorded: the key, the prompt, the answer, or the provider's error text
(it can quote the prompt).
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

from webapp.db import transactional
from webapp.operations import audit

log = logging.getLogger(__name__)

ACTION = "ai.call"
OK = "ok"
ERROR = "error"


@transactional
def _write(admin, provider_id: int | None, target_repr: str, after: dict) -> None:
    audit.record(
        ACTION,
        SimpleNamespace(id=provider_id),
        actor=admin,
        after=after,
        target_type="provider",
        target_repr=target_repr,
    )


def record_call(
    *,
    operation: str,
    provider: str,
    provider_id: int | None = None,
    model: str | None = None,
    capability: str | None = None,
    model_source: str | None = None,
    key_source: str | None = None,
    admin=None,
    outcome: str = OK,
    latency_ms: int = 0,
    error_kind: str | None = None,
    http_status: int | None = None,
    attempts: int = 0,
) -> None:
    """Write the event in its own small transaction. A failure to write is logged, not
    raised: the admin's answer (or error) matters more than its trace."""
    after = {
        "operation": operation,
        "provider": provider,
        "model": model,
        "capability": capability,
        "model_source": model_source,
        "key_source": key_source,
        "outcome": outcome,
        "latency_ms": int(latency_ms),
        "error_kind": error_kind,
        "http_status": http_status,
        "attempts": attempts,
    }
    target_repr = f"{provider} / {model}" if model else provider
    try:
        _write(admin, provider_id, target_repr, after)
    except Exception:
        log.exception("could not record an AI call on %s", provider)
