"""Reading the usage rollups (docs/CONTRACTS.md §10): the usage API, the usage page and
the overview all answer from ``usage_hourly``, never from the raw calls.

Time: an hour bucket is a UTC hour and is counted when its start lies in ``[from, to)``.
A day bucket is a day in ``APP_TIMEZONE`` (default Asia/Tehran) and sums the hour buckets
that start on that day: Tehran is UTC+03:30, so a Tehran day bucket holds the calls from
00:30 of that day to 00:30 of the next (an hour's calls are never split between days).
Percentiles are estimated from the rollups' latency histogram: within one bucket's width
(×1.5), interpolated geometrically inside the bucket.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)

from webapp import dates
from webapp.capabilities import is_capability
from webapp.errors import ValidationError
from webapp.extensions import db
from webapp.models import HealthCheck
from webapp.models.rollup import LATENCY_COLUMNS, LATENCY_EDGES, usage_hourly
from webapp.queries import groups, listing, usage_policies
from webapp.rollup import hour_of

BUCKETS = ("hour", "day")
FILTERS = ("provider", "capability", "model", "route", "key_source")
PARAMS = (*FILTERS, "from", "to", "bucket")
# The ways a call reaches its model (webapp/ai/routing.py) and where its key came from
# (webapp/queries/credentials.py), as recorded by the metering.
ROUTES = ("live", "explicit", "split", "fallback")
KEY_SOURCES = ("personal", "shared")
DEFAULT_SPAN = timedelta(hours=24)
MAX_SPAN = timedelta(days=400)
TEXT_MAX = 200
COUNTS = ("calls", "errors", "fallbacks")
TOKENS = ("prompt_tokens", "completion_tokens")
TOTALS = (*COUNTS, *TOKENS)
SERIES_KEYS = ("provider", "capability", "model")  # a series' point per bucket and these


def app_timezone() -> ZoneInfo:
    name = current_app.config.get("APP_TIMEZONE") or os.environ.get("APP_TIMEZONE", "")
    try:
        return ZoneInfo(name.strip() or "Asia/Tehran")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Tehran")


# ---------------------------------------------------------------- the query


@dataclass(frozen=True)
class UsageQuery:
    start: datetime
    end: datetime
    bucket: str = "hour"
    provider: str = ""
    capability: str = ""
    model: str = ""
    route: str = ""
    key_source: str = ""

    def as_args(self) -> dict[str, str]:
        args = {"from": self.start.isoformat(), "to": self.end.isoformat(), "bucket": self.bucket}
        args |= {k: getattr(self, k) for k in FILTERS if getattr(self, k)}
        return args


def _instant(text: str, *, end: bool, zone: ZoneInfo) -> datetime:
    """A day (ISO or Jalali: the whole day in APP_TIMEZONE) or an ISO 8601 instant with an
    offset. Raises ValueError."""
    text = text.strip()
    if len(text) <= 10:
        day = dates.parse_day(text)
        moment = datetime.combine(day + timedelta(days=1 if end else 0), datetime.min.time())
        return moment.replace(tzinfo=zone).astimezone(UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(text)
    return moment.astimezone(UTC)


def _range(args: Mapping[str, str], errors: dict, now: datetime) -> tuple[datetime, datetime]:
    zone = app_timezone()
    bounds = {}
    for name, default in (("from", now - DEFAULT_SPAN), ("to", now)):
        raw = args.get(name, "")
        if not raw.strip():
            bounds[name] = default
            continue
        try:
            bounds[name] = _instant(raw[:64], end=name == "to", zone=zone)
        except (ValueError, OverflowError):
            errors[name] = [
                _l("Give a day (2024-07-22) or a date and time with an offset (ISO 8601).")
            ]
    start, end = bounds.get("from"), bounds.get("to")
    if start and end and not errors:
        if end <= start:
            errors["to"] = [_l("The end must come after the start.")]
        elif end - start > MAX_SPAN:
            errors["to"] = [_l("The range may span at most %(days)s days.", days=MAX_SPAN.days)]
    return start, end


def parse_query(args: Mapping[str, str], *, now: datetime | None = None) -> UsageQuery:
    """The usage filters from query parameters; bad input raises ValidationError (400)."""
    now = now or datetime.now(UTC)
    errors: dict[str, list] = {}
    for key in args:
        if key not in PARAMS:
            errors[key] = [_l("Unknown parameter.")]
    text = {k: (args.get(k) or "").strip() for k in FILTERS}
    for key, value in text.items():
        if len(value) > TEXT_MAX:
            errors[key] = [_l("This value is too long.")]
    if text["capability"] and not is_capability(text["capability"]):
        errors["capability"] = [_l("Unknown capability: %(value)s", value=text["capability"][:50])]
    if text["route"] and text["route"] not in ROUTES:
        errors["route"] = [_l("The route must be one of: %(names)s.", names=", ".join(ROUTES))]
    if text["key_source"] and text["key_source"] not in KEY_SOURCES:
        errors["key_source"] = [_l("The key source must be «personal» or «shared».")]
    bucket = (args.get("bucket") or "hour").strip()
    if bucket not in BUCKETS:
        errors["bucket"] = [_l("The bucket must be «hour» or «day».")]
    start, end = _range(args, errors, now)
    if errors:
        raise ValidationError(_l("The usage query is not valid."), errors=errors)
    return UsageQuery(start, end, bucket, **text)


# ---------------------------------------------------------------- series

# Consecutive histogram edges grow by this factor (LATENCY_EDGES[k] = RATIO ** k ms).
RATIO = LATENCY_EDGES[1] / LATENCY_EDGES[0]


def _sum(column) -> ColumnElement:
    # PostgreSQL sums BIGINTs as NUMERIC (Decimals in Python): cast back, it is much cheaper.
    return cast(func.sum(column), BigInteger)


def _count_sum(column) -> ColumnElement:
    """A sum of per-hour call counts. One hour of one group never holds 2**31 calls, so
    each is summed as an INTEGER: PostgreSQL then keeps a plain 64-bit running total
    instead of a wide one it must serialise between parallel workers (several times
    faster over a month of rollups). Token sums stay BIGINT."""
    return cast(func.sum(cast(column, Integer)), BigInteger)


def _position(sums, q: float) -> ColumnElement:
    """SQL for where the ``q`` quantile falls in a summed histogram, as a bucket position
    ``i + share``: bucket ``i`` holds it and ``share`` of that bucket's calls come before
    it. A binary search over the cumulative counts written out as nested ``CASE``s (five
    levels for 30 buckets), so no histogram travels to Python."""
    rank = literal(q, Float) * sums["calls"]
    counts = [sums[name] for name in LATENCY_COLUMNS]

    def upto(i: int):  # calls in buckets 0..i
        total = counts[0]
        for count in counts[1 : i + 1]:
            total = total + count
        return total

    def pick(lo: int, hi: int):  # the quantile lies in buckets lo..hi-1
        if hi - lo == 1:
            before = rank if lo == 0 else rank - upto(lo - 1)
            return literal(float(lo), Float) + before / func.nullif(counts[lo], 0)
        mid = (lo + hi) // 2
        return case((upto(mid - 1) >= rank, pick(lo, mid)), else_=pick(mid, hi))

    return cast(pick(0, len(counts)), Float)


def latency_at(position: float | None) -> float | None:
    """The latency (ms) at a histogram position from :func:`_position`: linear inside the
    first bucket (0–1 ms), geometric inside the others (edges ``RATIO ** k``)."""
    if position is None:
        return None
    position = float(position)
    return round(position if position <= 1 else RATIO ** (position - 1), 1)


def percentile(counts: Iterable[int], q: float) -> float | None:
    """The ``q`` quantile (0–1) of one latency histogram, in ms; None without calls. The
    same estimate as the SQL of the reads (used where a histogram is already in hand)."""
    counts = list(counts)
    total = sum(counts)
    if not total:
        return None
    rank, seen = q * total, 0
    for i, count in enumerate(counts):
        if count and seen + count >= rank:
            return latency_at(i + (rank - seen) / count)
        seen += count
    return latency_at(float(len(counts)))


def _day_index(column, edges: list[datetime]) -> ColumnElement:
    """SQL numbering the day of ``column`` (an hour's start): ``k`` when it lies in
    ``[edges[k], edges[k+1])``. A balanced tree of ``CASE``s (depth log2 of the days), the
    same on SQLite and PostgreSQL, with the local midnights computed here (DST-correct)."""

    def pick(lo: int, hi: int):  # days lo..hi-1
        if hi - lo == 1:
            return literal(lo)
        mid = (lo + hi) // 2
        return case((column < edges[mid], pick(lo, mid)), else_=pick(mid, hi))

    return pick(0, len(edges) - 1)


def _local_midnights(start: datetime, end: datetime, zone: ZoneInfo) -> list[datetime]:
    """The local midnights (as UTC instants) from the day holding ``start`` to the first one
    at or after ``end``."""
    day = start.astimezone(zone).date()
    edges = []
    while True:
        edge = datetime.combine(day, datetime.min.time()).replace(tzinfo=zone).astimezone(UTC)
        edges.append(edge)
        if edge >= end:
            return edges
        day += timedelta(days=1)


def _filtered(stmt, q: UsageQuery):
    c = usage_hourly.c
    stmt = stmt.where(c.bucket_start >= q.start, c.bucket_start < q.end)
    for name in FILTERS:
        if getattr(q, name):
            stmt = stmt.where(c[name] == getattr(q, name))
    return stmt


def _folded(keys: list, q: UsageQuery, quantiles=(0.5, 0.95), extra=()):
    """``keys`` then ``TOTALS`` then one histogram position per quantile (see
    :func:`_position`), per group of ``keys``: the histograms are summed and read in SQL."""
    c = usage_hourly.c
    inner = _filtered(
        select(
            *keys,
            *(_count_sum(c[name]).label(name) for name in COUNTS),
            *(_sum(c[name]).label(name) for name in TOKENS),
            *(_count_sum(c[name]).label(name) for name in LATENCY_COLUMNS),
        )
        .where(*extra)
        .group_by(*keys),
        q,
    ).subquery("sums")
    key_cols = [inner.c[k.name] for k in keys]
    return (
        select(
            *key_cols,
            *(inner.c[name] for name in TOTALS),
            *(_position(inner.c, p).label(f"q{n}") for n, p in enumerate(quantiles)),
        ),
        key_cols,
    )


def series(q: UsageQuery) -> list[dict]:
    """The API's ``data``: one point per bucket and (provider, capability, model), in that
    order. Summed, bucketed and its percentiles placed by the database: one statement."""
    c = usage_hourly.c
    names = SERIES_KEYS
    if q.bucket == "day":
        edges = _local_midnights(q.start, q.end, app_timezone())
        starts = [edge.astimezone(app_timezone()) for edge in edges]
        keys = [_day_index(c.bucket_start, edges).label("bucket"), *(c[n] for n in names)]
    else:
        starts = None
        keys = [c.bucket_start.label("bucket"), *(c[n] for n in names)]
    stmt, key_cols = _folded(keys, q)
    out = []
    iso: dict = {}  # one bucket's start is shared by every model's point in it
    for bucket, *values, p50, p95 in db.session.execute(stmt.order_by(*key_cols)):
        start = iso.get(bucket)
        if start is None:
            start = iso[bucket] = (
                starts[bucket] if starts is not None else dates.as_utc(bucket)
            ).isoformat()
        out.append(
            {
                "bucket_start": start,
                **dict(zip((*names, *TOTALS), values, strict=True)),
                "p50_ms": latency_at(p50),
                "p95_ms": latency_at(p95),
            }
        )
    return out


def arm_totals(q: UsageQuery, groups: list[tuple[str, str]], *routes: str) -> dict[tuple, dict]:
    """Totals and percentiles over ``q``'s range (and key source) per (provider slug,
    capability, model, route) for the given groups and routes: one statement."""
    c = usage_hourly.c
    keys = [c.provider, c.capability, c.model, c.route]
    wide = replace(q, provider="", capability="", model="", route="")
    stmt, _ = _folded(
        keys,
        wide,
        extra=[
            or_(*(and_(c.provider == p, c.capability == cap) for p, cap in groups)),
            c.route.in_(routes),
        ],
    )
    found = {}
    for provider, capability, model, route, *totals, p50, p95 in db.session.execute(stmt):
        found[(provider, capability, model, route)] = dict(
            zip(TOTALS, totals, strict=True), p50_ms=latency_at(p50), p95_ms=latency_at(p95)
        )
    return found


# ---------------------------------------------------------------- the overview

OVERVIEW_HOURS = 24
HIGH_ERROR_RATE = 0.05  # above this share of failed calls a group is flagged


@dataclass
class GroupUsage:
    calls: int = 0
    errors: int = 0
    p95_ms: float | None = None
    hourly: list[tuple[datetime, int]] = field(default_factory=list)

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.calls if self.calls else None


@dataclass
class OverviewRow:
    group: object  # queries.groups.Group
    usage: GroupUsage
    switched_at: datetime | None = None
    switched_by_id: int | None = None
    switched_by: str = ""
    next_switch: Mapping | None = None  # {"run_at", "model"} when traffic policies exist
    split: list[Mapping] = field(default_factory=list)  # [{"model", "percent"}]
    fallbacks: list[str] = field(default_factory=list)  # display names, in order
    health: HealthCheck | None = None  # the last check of the group (operations.health)

    @property
    def no_live_model(self) -> bool:
        return self.group.active is None

    @property
    def high_error_rate(self) -> bool:
        rate = self.usage.error_rate
        return rate is not None and rate > HIGH_ERROR_RATE

    @property
    def needs_attention(self) -> bool:
        return self.no_live_model or self.high_error_rate


def group_usage(
    now: datetime | None = None,
) -> tuple[list[datetime], dict[tuple[str, str], GroupUsage]]:
    """The last ``OVERVIEW_HOURS`` UTC hours (the current one included) and, per (provider
    slug, capability), calls, errors, p95 and calls per hour over them: one query."""
    last = hour_of(now or datetime.now(UTC))
    hours = [last - timedelta(hours=n) for n in range(OVERVIEW_HOURS - 1, -1, -1)]
    q = UsageQuery(hours[0], last + timedelta(hours=1))
    c = usage_hourly.c
    totals, _ = _folded([c.provider, c.capability], q, quantiles=(0.95,))
    per_hour: dict[tuple[str, str], dict[datetime, int]] = {}
    by_hour = _filtered(
        select(c.provider, c.capability, c.bucket_start, _sum(c.calls)).group_by(
            c.provider, c.capability, c.bucket_start
        ),
        q,
    )
    for provider, capability, start, calls in db.session.execute(by_hour):
        per_hour.setdefault((provider, capability), {})[dates.as_utc(start)] = calls
    usage = {
        (provider, capability): GroupUsage(
            calls=calls,
            errors=errors,
            p95_ms=latency_at(p95),
            hourly=[(h, per_hour.get((provider, capability), {}).get(h, 0)) for h in hours],
        )
        for provider, capability, calls, errors, *_, p95 in db.session.execute(totals)
    }
    return hours, usage


def overview(now: datetime | None = None) -> list[OverviewRow]:
    """Every (provider, capability) group that has models, with its live model, its last
    switch, its traffic policies and its last 24 hours: a fixed number of queries."""
    hours, usage = group_usage(now)
    rows = []
    for provider in groups.load_providers():
        for group in groups.provider_groups(provider):
            key = (provider.slug, group.capability)
            row = OverviewRow(group, usage.get(key) or GroupUsage(hourly=[(h, 0) for h in hours]))
            if group.active is not None:
                live = next(
                    r for r in group.active.capability_rows if r.capability == group.capability
                )
                row.switched_at, row.switched_by_id = live.activated_at, live.activated_by_id
            rows.append(row)
    _name_switchers(rows)
    usage_policies.attach(rows)
    checks = {(h.provider_id, h.capability): h for h in db.session.scalars(select(HealthCheck))}
    for row in rows:
        row.health = checks.get((row.group.provider.id, row.group.capability))
    return rows


def _name_switchers(rows: list[OverviewRow]) -> None:
    names = listing.names_of(r.switched_by_id for r in rows)
    for row in rows:
        row.switched_by = names.get(row.switched_by_id, "")


# ---------------------------------------------------------------- the usage page's charts

CHART_METRICS = (
    ("calls", _l("Calls")),
    ("errors", _l("Errors")),
    ("p50_ms", _l("Median latency (p50, ms)")),
    ("p95_ms", _l("Latency p95 (ms)")),
    ("prompt_tokens", _l("Prompt tokens")),
    ("completion_tokens", _l("Completion tokens")),
)
# The API's point fields (``series``), in the order of the CSV's columns.
CSV_COLUMNS = ("bucket_start", *SERIES_KEYS, *COUNTS, "p50_ms", "p95_ms", *TOKENS)


@dataclass(frozen=True)
class Chart:
    """One metric over time, one series per (provider, capability, model): what the chart
    draws and what its table shows."""

    metric: str
    title: str
    buckets: list[str]  # ISO instants, oldest first
    series: list[dict]  # {"provider", "capability", "model", "values": [number | None]}

    def as_json(self) -> dict:
        return {"metric": self.metric, "buckets": self.buckets, "series": self.series}


def charts(points: list[dict]) -> list[Chart]:
    buckets = sorted({p["bucket_start"] for p in points})
    keys = sorted({(p["provider"], p["capability"], p["model"]) for p in points})
    at = {(p["bucket_start"], p["provider"], p["capability"], p["model"]): p for p in points}
    out = []
    for metric, title in CHART_METRICS:
        series = []
        for provider, capability, model in keys:
            values = []
            for bucket in buckets:
                point = at.get((bucket, provider, capability, model))
                values.append(point[metric] if point else (None if metric.endswith("_ms") else 0))
            series.append(
                {"provider": provider, "capability": capability, "model": model, "values": values}
            )
        out.append(Chart(metric, str(title), buckets, series))
    return out


def csv_rows(points: list[dict]) -> Iterable[list]:
    yield list(CSV_COLUMNS)
    for point in points:
        yield [point[name] if point[name] is not None else "" for name in CSV_COLUMNS]
