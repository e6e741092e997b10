"""Hourly usage rollups (docs/CONTRACTS.md §10): what the usage API and the overview read,
so they never scan the raw ``usage_call`` rows.

One row per UTC hour and (provider, capability, model, route, key source). Absent values
are stored as ``''`` so the group is a primary key that ``INSERT … ON CONFLICT`` can match
(NULLs never conflict). Latencies are counted in ``LATENCY_BUCKETS`` fixed, log-spaced
buckets (columns ``lat_00`` … ``lat_29``): percentiles are estimated from the counts.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table

from webapp.extensions import db
from webapp.models.base import UTCDateTime

LATENCY_BUCKETS = 30
LATENCY_MIN_MS = 1.0
LATENCY_MAX_MS = 120_000.0
# Upper edge of each bucket: 1 ms, ×1.497 per step, … 120 s (the last also holds slower calls).
LATENCY_EDGES = tuple(
    LATENCY_MIN_MS * (LATENCY_MAX_MS / LATENCY_MIN_MS) ** (i / (LATENCY_BUCKETS - 1))
    for i in range(LATENCY_BUCKETS)
)
LATENCY_COLUMNS = tuple(f"lat_{i:02d}" for i in range(LATENCY_BUCKETS))
GROUP_COLUMNS = ("bucket_start", "provider", "capability", "model", "route", "key_source")
SUM_COLUMNS = (
    "calls",
    "errors",
    "fallbacks",
    "prompt_tokens",
    "completion_tokens",
    "latency_sum_ms",
    *LATENCY_COLUMNS,
)


# SQLite's INTEGER is 64-bit already; PostgreSQL needs BIGINT for token and latency sums.
_COUNT = BigInteger().with_variant(Integer(), "sqlite")


def _counter(name: str) -> Column:
    return Column(name, _COUNT, nullable=False, default=0)


# The primary key leads with the hour: it serves the unfiltered time-range reads.
usage_hourly = Table(
    "usage_hourly",
    db.metadata,
    Column("bucket_start", UTCDateTime, primary_key=True),
    Column("provider", String(50), primary_key=True, default=""),
    Column("capability", String(20), primary_key=True, default=""),
    Column("model", String(200), primary_key=True, default=""),
    Column("route", String(16), primary_key=True, default=""),
    Column("key_source", String(16), primary_key=True, default=""),
    *(_counter(name) for name in SUM_COLUMNS),
    # Reads filtered by provider (and model) over a range: the API's usual question.
    Index("ix_usage_hourly_provider_model", "provider", "model", "bucket_start"),
)


class UsageHourly(db.Model):
    __table__ = usage_hourly

    def __repr__(self) -> str:
        return f"<UsageHourly {self.bucket_start:%Y-%m-%dT%H} {self.provider}/{self.model}>"
