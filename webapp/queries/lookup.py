"""``get_active_model``: which model is live for a provider and capability.

One indexed query when uncached (the partial unique index on
``model_capability(provider_id, capability) WHERE is_active`` answers it), the
answer cached for ``ACTIVE_MODEL_CACHE_TTL`` seconds, and invalidated only after
a change commits (``invalidate_provider``). The answer is a plain snapshot, not
an ORM object, so it can live in Redis and be shared by every worker.

Two generations guard a cached answer. The cache's own per-provider counter,
bumped after commit, reaches every worker at once. The database's counter
(``cache_generation``), bumped inside the change's transaction, is the durable
one: if the cache lost the first (Redis down, restarted from a snapshot), a
reader still rejects the answer once it sees the database's counter move, which
it re-reads at most once per ``GENERATION_MAX_AGE`` seconds.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass
from itertools import chain
from time import monotonic
from typing import TypeVar

from flask import current_app
from sqlalchemy import String, bindparam, event, func, inspect, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, aliased

from webapp import outage
from webapp.cache import MISSING, _cv_app, local_layer
from webapp.capabilities import sort_capabilities
from webapp.db import after_commit
from webapp.extensions import cache, db
from webapp.models import (
    ACTIVE_ROW,
    Admin,
    AdminProviderSettings,
    AIModel,
    ApiToken,
    CacheGeneration,
    ModelCapability,
    Provider,
    RoutingFallback,
    RoutingSplit,
)
from webapp.models.cache import GENERATION_ROW, TOKENS_ROW

T = TypeVar("T")
NONE_MARKER = {"none": True}
# How long a process trusts the database generation it last read: the longest a
# change can stay invisible to it when the cache lost the invalidation.
GENERATION_MAX_AGE = 1.0
_BUMP_PENDING = "bump_cache_generation"
_BUMP_TOKENS = "bump_token_generation"


@dataclass(frozen=True)
class ActiveModel:
    """What an AI call needs to reach the provider, and what the API shows."""

    id: int
    name: str
    model_id: str
    display_name: str
    provider: str
    provider_id: int
    provider_name: str
    base_url: str
    capabilities: tuple[str, ...]
    active_capabilities: tuple[str, ...]
    created_at: str
    updated_at: str
    created_by: str | None
    updated_by: str | None

    @property
    def is_active(self) -> bool:
        """Live for at least one capability (always, for an active-model answer)."""
        return bool(self.active_capabilities)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["capabilities"] = list(self.capabilities)
        data["active_capabilities"] = list(self.active_capabilities)
        data["is_active"] = self.is_active
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ActiveModel:
        data = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        data["capabilities"] = tuple(data["capabilities"])
        data["active_capabilities"] = tuple(data["active_capabilities"])
        return cls(**data)


def cache_key(provider_slug: str, capability: str) -> str:
    return f"active:{provider_slug}:{capability}"


def generation_key(provider_slug: str) -> str:
    return f"gen:{provider_slug}"


# The statements are built once per process with bound parameters: building them costs
# far more than running them (aliases, scalar subqueries), and SQLAlchemy's compiled
# cache then serves every call.
def _model_row():
    """A model's columns with its provider's, its capabilities and active ones (each
    aggregated in a scalar subquery) and the usernames of its creator and last editor:
    from ``ai_model`` joined to ``provider``, for the caller to filter."""
    caps = aliased(ModelCapability)
    active_caps = aliased(ModelCapability)
    creator = aliased(Admin)
    editor = aliased(Admin)
    all_caps = (
        select(func.aggregate_strings(caps.capability, ","))
        .where(caps.model_id == AIModel.id)
        .scalar_subquery()
    )
    live_caps = (
        select(func.aggregate_strings(active_caps.capability, ","))
        .where(active_caps.model_id == AIModel.id, active_caps.is_active)
        .scalar_subquery()
    )
    return (
        select(
            AIModel.id,
            AIModel.name,
            AIModel.model_id,
            AIModel.display_name,
            AIModel.provider_id,
            AIModel.created_at,
            AIModel.updated_at,
            Provider.slug,
            Provider.name,
            Provider.base_url,
            all_caps,
            live_caps,
            creator.username,
            editor.username,
        )
        .select_from(AIModel)
        .join(Provider, Provider.id == AIModel.provider_id)
        .outerjoin(creator, creator.id == AIModel.created_by_id)
        .outerjoin(editor, editor.id == AIModel.updated_by_id)
    )


@functools.cache
def _active_model_statement():
    return (
        _model_row()
        .join(ModelCapability, ModelCapability.model_id == AIModel.id)
        .where(
            Provider.slug == bindparam("provider_slug", type_=String()),
            Provider.is_enabled,
            ModelCapability.capability == bindparam("capability", type_=String()),
            ACTIVE_ROW,
        )
    )


@functools.cache
def _model_statement():
    return _model_row().where(AIModel.id == bindparam("model_pk"))


def _snapshot(row) -> ActiveModel:
    (
        model_pk,
        name,
        model_id,
        display_name,
        provider_id,
        created_at,
        updated_at,
        slug,
        provider_name,
        base_url,
        caps,
        live,
        created_by,
        updated_by,
    ) = row
    return ActiveModel(
        id=model_pk,
        name=name,
        model_id=model_id,
        display_name=display_name,
        provider=slug,
        provider_id=provider_id,
        provider_name=provider_name,
        base_url=base_url,
        capabilities=tuple(sort_capabilities(caps.split(",") if caps else [])),
        active_capabilities=tuple(sort_capabilities(live.split(",") if live else [])),
        created_at=created_at.isoformat(),
        updated_at=updated_at.isoformat(),
        created_by=created_by,
        updated_by=updated_by,
    )


def load_active_model(provider_slug: str, capability: str) -> ActiveModel | None:
    """The uncached lookup: exactly one query.

    Plain columns through the session's connection (same transaction), not ORM
    entities: the answer is a snapshot anyway, and the ORM's execution and loading
    took about as long as the query itself (bench/lookup.py, docs/PERFORMANCE.md).
    """
    params = {"provider_slug": provider_slug, "capability": capability}
    row = db.session.connection().execute(_active_model_statement(), params).first()
    return None if row is None else _snapshot(row)


def model_snapshot(model_id: int) -> ActiveModel | None:
    """Any model, live or not, as the same kind of snapshot, in one query: what an
    answer shows of a model just written, without loading it and its relations
    through the ORM (four statements)."""
    row = db.session.connection().execute(_model_statement(), {"model_pk": model_id}).first()
    return None if row is None else _snapshot(row)


_GENERATIONS = select(CacheGeneration.id, CacheGeneration.generation).where(
    CacheGeneration.id.in_((GENERATION_ROW, TOKENS_ROW))
)
# One statement on SQLite and PostgreSQL alike; it also creates the row where the
# schema came from create_all rather than the migration.
_BUMP = text(
    "INSERT INTO cache_generation (id, generation) VALUES (:id, 1) "
    "ON CONFLICT (id) DO UPDATE SET generation = cache_generation.generation + 1 "
    "RETURNING generation"
).bindparams(id=GENERATION_ROW)
# The tokens' row holds the generation of the last change to a token or an admin.
_MARK_TOKENS = text(
    "INSERT INTO cache_generation (id, generation) VALUES (:id, :value) "
    "ON CONFLICT (id) DO UPDATE SET generation = :value"
).bindparams(id=TOKENS_ROW)


def database_generation() -> int:
    """The newest cache generation this process knows: pushed by commits (here, or in
    another process through Redis), and re-read from the database at most once per
    GENERATION_MAX_AGE.

    While the database is unreachable the last value read stands (nothing can change
    while nothing can commit), so cached answers keep being served; it is tried again
    a GENERATION_MAX_AGE later.
    """
    layer = local_layer()
    if not layer.fresh(GENERATION_MAX_AGE):
        cache.listening()
        epoch = layer.epoch
        try:
            rows = dict(db.session.connection().execute(_GENERATIONS).all())
        except OperationalError as exc:
            outage.state.went_down(exc)
            outage.forget_transaction()
            rows = {GENERATION_ROW: layer.generation, TOKENS_ROW: layer.token_generation}
        value, tokens = rows.get(GENERATION_ROW) or 0, rows.get(TOKENS_ROW) or 0
        layer.read_generation(value, epoch, GENERATION_MAX_AGE, tokens)
    return layer.generation


def token_generation() -> int:
    """The generation of the last change to a token or an admin, as this process knows
    it (kept like ``database_generation``, read with it): what cached tokens are checked
    against, so switching a model does not send them back to the database."""
    database_generation()
    return local_layer().token_generation


def get_active_model(provider_slug: str, capability: str) -> ActiveModel | None:
    """The active model of ``provider_slug`` for ``capability``, or None.

    None also when the provider is unknown or disabled. Answered from this process's
    local layer when it can (a dict read), else from the shared cache, else from the
    database. A cached answer is tagged with the generations read *before* it was
    loaded, so an answer computed from a snapshot older than a change is never served
    again, even if it was written to a cache after the invalidation (the classic
    read-then-set race).
    """
    # The hot path, LocalLayer.get inlined: a context-variable read, two dict reads, a clock.
    layer = _cv_app.get().app.extensions["local_cache"]
    entry = layer.entries.get((provider_slug, capability))
    if entry is not None and entry[0] == layer.generation:
        now = monotonic()
        if now < layer.trusted_until and now < entry[1]:
            return entry[2]
    return _active_model_miss(provider_slug, capability)


def _active_model_miss(provider_slug: str, capability: str) -> ActiveModel | None:
    ttl = int(current_app.config.get("ACTIVE_MODEL_CACHE_TTL", 300))
    if ttl <= 0:
        return load_active_model(provider_slug, capability)
    key = cache_key(provider_slug, capability)
    stamp = database_generation()
    generation, entry = cache.get_many([generation_key(provider_slug), key])
    generation = 0 if generation is MISSING else int(generation)
    if entry is not MISSING and entry.get("g") == generation and entry.get("d") == stamp:
        value = entry["v"]
        model = None if value == NONE_MARKER else ActiveModel.from_dict(value)
    else:
        model = load_active_model(provider_slug, capability)
        value = model.to_dict() if model else NONE_MARKER
        cache.set(key, {"g": generation, "d": stamp, "v": value}, ttl)
    local_layer().put((provider_slug, capability), model, stamp, ttl)
    return model


def remembered(key: tuple, compute: Callable[[], T]) -> T:
    """``compute()``, kept in this process's local layer under ``key`` (a tuple whose first
    item names the kind of answer) until the generation moves or the TTL passes. For
    answers made only of ``CACHED_ROWS``; what ``compute`` raises is not kept."""
    layer = local_layer()
    found = layer.get(key)
    if found is not MISSING:
        return found
    ttl = int(current_app.config.get("ACTIVE_MODEL_CACHE_TTL", 300))
    stamp = database_generation() if ttl > 0 else 0
    value = compute()
    layer.put(key, value, stamp, ttl)
    return value


def move_generation_on_commit(session: Session | None = None, *, tokens: bool = False) -> Session:
    """Move the database generation when the current transaction commits: every cached
    answer (active models, credentials, routing) is dropped by this process at once, by
    every other worker when the push reaches it (Redis), and at the latest
    GENERATION_MAX_AGE later whatever happened to the push. ``tokens``: the change
    touches a token or an admin, so cached tokens are dropped too."""
    session = session or db.session()
    session.info[_BUMP_PENDING] = True
    if tokens:
        session.info[_BUMP_TOKENS] = True
    return session


def invalidate_provider(*slugs: str) -> None:
    """Make every cached answer for these providers stale when the change commits:
    the database generation moves in the same transaction, the cache's own
    counters right after commit (nothing moves on rollback)."""
    keys = [generation_key(slug) for slug in sorted(set(slugs)) if slug]
    session = move_generation_on_commit()

    def bump() -> None:
        for key in keys:
            cache.incr(key)

    after_commit(session, bump)


# Rows the cached answers are made of. An ORM change to any of them moves the generation
# (operations that write in bulk call ``invalidate_provider`` themselves).
CACHED_ROWS = (
    Provider,
    AIModel,
    ModelCapability,
    AdminProviderSettings,
    RoutingSplit,
    RoutingFallback,
    Admin,
    ApiToken,
)
# Rows a cached token is made of.
TOKEN_ROWS = (Admin, ApiToken)
# Bookkeeping that decides nothing: writing it must not throw away every worker's cached
# answers (a sign-in or a token's use would otherwise do so).
BOOKKEEPING = frozenset({"last_login_at", "last_used_at", "updated_at"})


def _changes_answers(obj) -> bool:
    changed = {a.key for a in inspect(obj).attrs if a.history.has_changes()}
    return bool(changed - BOOKKEEPING)


@event.listens_for(Session, "before_flush")
def _cached_rows_changed(session: Session, flush_context, instances) -> None:
    if session.info.get(_BUMP_TOKENS):
        return
    changed = [o for o in chain(session.new, session.deleted) if isinstance(o, CACHED_ROWS)]
    changed += [o for o in session.dirty if isinstance(o, CACHED_ROWS) and _changes_answers(o)]
    if changed:
        tokens = any(isinstance(o, TOKEN_ROWS) for o in changed)
        move_generation_on_commit(session, tokens=tokens)


@event.listens_for(Session, "before_commit")
def _bump_database_generation(session: Session) -> None:
    # Flushed first (flushing may ask for the bump), so the generation row is the last
    # lock the transaction takes and held only for the commit: two changes never
    # deadlock over it.
    session.flush()
    tokens = session.info.pop(_BUMP_TOKENS, False)
    if not session.info.pop(_BUMP_PENDING, False):
        return
    connection = session.connection()
    value = connection.execute(_BUMP).scalar_one()
    if tokens:
        connection.execute(_MARK_TOKENS, {"value": value})
    layer = local_layer()
    epoch = layer.epoch

    def pushed() -> None:
        # This process at once, every other one as soon as Redis tells it.
        layer.read_generation(value, epoch, GENERATION_MAX_AGE, value if tokens else 0)
        cache.publish_generation(value, tokens)

    after_commit(session, pushed)


@event.listens_for(Session, "after_rollback")
def _forget_bump(session: Session) -> None:
    session.info.pop(_BUMP_PENDING, None)
    session.info.pop(_BUMP_TOKENS, None)
