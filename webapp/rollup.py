"""Folding metered calls into the hourly rollups, and pruning raw rows (docs/CONTRACTS.md §10).

The metering writer calls :func:`roll_up` with each batch it inserts, in the same
transaction: the raw rows and their rollups are written together or not at all, so a
batch tried again after a failure is never counted twice.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from webapp.dates import as_utc
from webapp.extensions import db
from webapp.models import UsageCall
from webapp.models.rollup import (
    GROUP_COLUMNS,
    LATENCY_BUCKETS,
    LATENCY_COLUMNS,
    LATENCY_EDGES,
    SUM_COLUMNS,
    usage_hourly,
)

OK = "ok"
FALLBACK = "fallback"


def latency_bucket(latency_ms: float) -> int:
    """Index of the histogram bucket a latency falls in (the last one holds the slowest)."""
    return min(bisect_left(LATENCY_EDGES, latency_ms), LATENCY_BUCKETS - 1)


def hour_of(at: datetime) -> datetime:
    return as_utc(at).replace(minute=0, second=0, microsecond=0)


def _key(row: Mapping) -> tuple:
    return (
        hour_of(row["at"]),
        row.get("provider") or "",
        row.get("capability") or "",
        row.get("model") or "",
        row.get("route") or "",
        row.get("key_source") or "",
    )


def aggregate(rows: Iterable[Mapping]) -> list[dict]:
    """One dict per (hour, group) with the summed counters, in key order (a fixed lock
    order, so two workers upserting the same groups cannot deadlock)."""
    groups: dict[tuple, dict] = {}
    for row in rows:
        sums = groups.setdefault(_key(row), dict.fromkeys(SUM_COLUMNS, 0))
        latency = row["latency_ms"]
        sums["calls"] += 1
        sums["errors"] += row["outcome"] != OK
        sums["fallbacks"] += row.get("route") == FALLBACK
        sums["prompt_tokens"] += row.get("prompt_tokens") or 0
        sums["completion_tokens"] += row.get("completion_tokens") or 0
        sums["latency_sum_ms"] += latency
        sums[LATENCY_COLUMNS[latency_bucket(latency)]] += 1
    return [dict(zip(GROUP_COLUMNS, key, strict=True)) | groups[key] for key in sorted(groups)]


def _upsert(dialect: str):
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(usage_hourly)
    return stmt.on_conflict_do_update(
        index_elements=list(GROUP_COLUMNS),
        set_={name: usage_hourly.c[name] + stmt.excluded[name] for name in SUM_COLUMNS},
    )


def roll_up(conn: Connection, rows: Iterable[Mapping]) -> int:
    """Add ``rows`` (``usage_call`` dicts) to their hourly rollups; one statement for the
    batch. Returns the number of (hour, group) rows touched."""
    values = aggregate(rows)
    if values:
        conn.execute(_upsert(conn.dialect.name), values)
    return len(values)


def prune(days: int, *, now: datetime | None = None) -> int:
    """Delete raw usage rows older than ``days`` days; the rollups stay. Returns the count."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    with db.engine.begin() as conn:
        return conn.execute(delete(UsageCall.__table__).where(UsageCall.at < cutoff)).rowcount
