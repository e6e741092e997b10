"""Which admin a bearer token speaks for, without a query on the hot path.

Each process keeps a small map from a token's hash to a snapshot of the token and its
admin. An entry is trusted while the tokens' generation (``lookup.token_generation``)
has not moved and for at most ``TOKEN_CACHE_TTL`` seconds. Any change to a token or an
admin row through the ORM (revocation, expiry, role, password, enabled) moves it in its
transaction (``lookup.TOKEN_ROWS``), and nothing else does: switching a model leaves the
cached tokens alone. The move is pushed to every worker through Redis, and every worker
re-reads it at most ``GENERATION_MAX_AGE`` later anyway: a
revoked token is refused within about a second in every worker (docs/CONTRACTS.md §5). Expiry is
checked on every call. Only live tokens are cached; an unknown one costs a query.

While the database is away the last generation read stands, so a cached token keeps
working: nothing can be revoked while nothing can commit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime

from flask import current_app
from sqlalchemy import inspect, select
from sqlalchemy.orm import make_transient_to_detached

from webapp.extensions import db
from webapp.models import Admin, ApiToken, utcnow
from webapp.queries.lookup import token_generation

TOKEN_CACHE_TTL = 300.0
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class TokenEntry:
    token_id: int
    expires_at: datetime | None
    last_used_at: datetime | None
    # The token's admin, detached and shared by this process's requests: read its
    # columns (id, role, can()); never add it to a session.
    admin: Admin
    generation: int
    cached_at: float

    @property
    def live(self) -> bool:
        return self.expires_at is None or self.expires_at > utcnow()


def _entries() -> dict[str, TokenEntry]:
    return current_app.extensions.setdefault("token_cache", {})


def _detached_copy(admin: Admin) -> Admin:
    """A copy of ``admin``'s columns in no session: building and merging an ORM object
    on every call cost a token request more than the rest of its answer."""
    copy = Admin(**{attr.key: getattr(admin, attr.key) for attr in inspect(Admin).column_attrs})
    make_transient_to_detached(copy)
    return copy


def _load(digest: str, generation: int) -> TokenEntry | None:
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if token is None or token.revoked_at is not None or token.is_expired:
        return None
    if not token.admin.is_enabled:
        return None
    return TokenEntry(
        token.id,
        token.expires_at,
        token.last_used_at,
        _detached_copy(token.admin),
        generation,
        time.monotonic(),
    )


def live_token(digest: str) -> TokenEntry | None:
    """The live token with this hash (cached), or None."""
    generation = token_generation()
    entries = _entries()
    entry = entries.get(digest)
    if (
        entry is not None
        and entry.generation == generation
        and time.monotonic() - entry.cached_at < TOKEN_CACHE_TTL
    ):
        return entry if entry.live else None
    entry = _load(digest, generation)
    if len(entries) >= MAX_ENTRIES:
        entries.clear()
    if entry is None:
        entries.pop(digest, None)
    else:
        entries[digest] = entry
    return entry


def used(digest: str, entry: TokenEntry, when: datetime) -> None:
    """Remember that the token's last use was recorded at ``when``."""
    _entries()[digest] = replace(entry, last_used_at=when)
