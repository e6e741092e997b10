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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, cast, func, select

from webapp import dates
from webapp.capabilities import is_capability
from webapp.errors import ValidationError
from webapp.extensions import db
from webapp.models import Admin
from webapp.models.rollup import LATENCY_COLUMNS, LATENCY_EDGES, usage_hourly
from webapp.queries import groups, usage_policies

BUCKETS = ("hour", "day")
PARAMS = ("provider", "capability", "model", "from", "to", "bucket")
DEFAULT_SPAN = timedelta(hours=24)
MAX_SPAN = timedelta(days=400)
TEXT_MAX = 200
TOTALS = ("calls", "errors", "fallbacks", "prompt_tokens", "completion_tokens")


def app_timezone() -> ZoneInfo:
    name = current_app.config.get("APP_TIMEZONE") or os.environ.get("APP_TIMEZONE", "")
    try:
        return ZoneInfo(name.strip() or "Asia/Tehran")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Tehran")


def floor_hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# ---------------------------------------------------------------- percentiles


def percentile(counts: Iterable[int], q: float) -> float | None:
    """The ``q`` quantile (0–1) of a latency histogram, in ms; None without calls."""
    counts = list(counts)
    total = sum(counts)
    if not total:
        return None
    rank, seen = q * total, 0
    for i, count in enumerate(counts):
        if count and seen + count >= rank:
            share = (rank - seen) / count
            high = LATENCY_EDGES[i]
            if i == 0:
                return round(high * share, 1)
            low = LATENCY_EDGES[i - 1]
            return round(low * (high / low) ** share, 1)
        seen += count
    return round(LATENCY_EDGES[-1], 1)


# ---------------------------------------------------------------- the query


@dataclass(frozen=True)
class UsageQuery:
    start: datetime
    end: datetime
    bucket: str = "hour"
    provider: str = ""
    capability: str = ""
    model: str = ""

    def as_args(self) -> dict[str, str]:
        args = {"from": self.start.isoformat(), "to": self.end.isoformat(), "bucket": self.bucket}
        args |= {
            k: getattr(self, k) for k in ("provider", "capability", "model") if getattr(self, k)
        }
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
    text = {k: (args.get(k) or "").strip() for k in ("provider", "capability", "model")}
    for key, value in text.items():
        if len(value) > TEXT_MAX:
            errors[key] = [_l("This value is too long.")]
    if text["capability"] and not is_capability(text["capability"]):
        errors["capability"] = [_l("Unknown capability: %(value)s", value=text["capability"][:50])]
    bucket = (args.get("bucket") or "hour").strip()
    if bucket not in BUCKETS:
        errors["bucket"] = [_l("The bucket must be «hour» or «day».")]
    start, end = _range(args, errors, now)
    if errors:
        raise ValidationError(_l("The usage query is not valid."), errors=errors)
    return UsageQuery(start, end, bucket, **text)


# ---------------------------------------------------------------- series


def _sums():
    names = (*TOTALS, *LATENCY_COLUMNS)
    # PostgreSQL sums BIGINTs as NUMERIC (Decimals in Python): cast back, it is much cheaper.
    return [cast(func.sum(usage_hourly.c[name]), BigInteger).label(name) for name in names]


def _hourly_rows(q: UsageQuery, by_model: bool = True) -> list[tuple]:
    """``(bucket_start, provider, capability[, model], sums…)`` per UTC hour, in that
    order; the sums are ``TOTALS`` then the latency histogram."""
    c = usage_hourly.c
    keys = [c.bucket_start, c.provider, c.capability] + ([c.model] if by_model else [])
    stmt = (
        select(*keys, *_sums())
        .where(c.bucket_start >= q.start, c.bucket_start < q.end)
        .group_by(*keys)
        .order_by(*keys)
    )
    for name in ("provider", "capability", "model"):
        if getattr(q, name):
            stmt = stmt.where(c[name] == getattr(q, name))
    return db.session.execute(stmt).all()


class Fold:
    """Counters of one series point (``TOTALS`` then the histogram) as hours are added."""

    __slots__ = ("sums",)

    def __init__(self, sums) -> None:
        self.sums = list(sums)

    def add(self, sums) -> None:
        self.sums = [a + b for a, b in zip(self.sums, sums, strict=True)]

    @property
    def totals(self) -> dict:
        return dict(zip(TOTALS, self.sums, strict=False))

    def p(self, q: float) -> float | None:
        return percentile(self.sums[len(TOTALS) :], q)


def _utc(value: datetime) -> datetime:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def _day_start(bucket_start: datetime, zone: ZoneInfo) -> datetime:
    local: date = bucket_start.astimezone(zone).date()
    return datetime.combine(local, datetime.min.time()).replace(tzinfo=zone)


def series(q: UsageQuery) -> list[dict]:
    """The API's ``data``: one point per bucket and (provider, capability, model)."""
    zone = app_timezone()
    points: dict[tuple, Fold] = {}
    for start, provider, capability, model, *sums in _hourly_rows(q):
        start = _day_start(_utc(start), zone) if q.bucket == "day" else _utc(start)
        key = (start, provider, capability, model)
        fold = points.get(key)
        if fold is None:
            points[key] = Fold(sums)
        else:
            fold.add(sums)
    return [
        {
            "bucket_start": start.isoformat(),
            "provider": provider,
            "capability": capability,
            "model": model,
            **fold.totals,
            "p50_ms": fold.p(0.5),
            "p95_ms": fold.p(0.95),
        }
        for (start, provider, capability, model), fold in sorted(points.items())
    ]


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


def _empty(hours: list[datetime]) -> GroupUsage:
    return GroupUsage(hourly=[(h, 0) for h in hours])


def group_usage(
    now: datetime | None = None,
) -> tuple[list[datetime], dict[tuple[str, str], GroupUsage]]:
    """The last ``OVERVIEW_HOURS`` UTC hours (the current one included) and, per (provider
    slug, capability), calls, errors, p95 and calls per hour over them: one query."""
    last = floor_hour(now or datetime.now(UTC))
    hours = [last - timedelta(hours=n) for n in range(OVERVIEW_HOURS - 1, -1, -1)]
    q = UsageQuery(hours[0], last + timedelta(hours=1))
    folds: dict[tuple[str, str], Fold] = {}
    per_hour: dict[tuple[str, str], dict[datetime, int]] = {}
    for start, provider, capability, *sums in _hourly_rows(q, by_model=False):
        key = (provider, capability)
        fold = folds.get(key)
        if fold is None:
            folds[key] = Fold(sums)
        else:
            fold.add(sums)
        per_hour.setdefault(key, {})[_utc(start)] = sums[0]
    usage = {
        key: GroupUsage(
            calls=fold.totals["calls"],
            errors=fold.totals["errors"],
            p95_ms=fold.p(0.95),
            hourly=[(h, per_hour[key].get(h, 0)) for h in hours],
        )
        for key, fold in folds.items()
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
            row = OverviewRow(group, usage.get(key) or _empty(hours))
            if group.active is not None:
                live = next(
                    r for r in group.active.capability_rows if r.capability == group.capability
                )
                row.switched_at, row.switched_by_id = live.activated_at, live.activated_by_id
            rows.append(row)
    _name_switchers(rows)
    usage_policies.attach(rows)
    return rows


def _name_switchers(rows: list[OverviewRow]) -> None:
    ids = {r.switched_by_id for r in rows if r.switched_by_id is not None}
    if not ids:
        return
    names = dict(
        db.session.execute(select(Admin.id, Admin.username).where(Admin.id.in_(ids))).all()
    )
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
CSV_COLUMNS = (
    "bucket_start",
    "provider",
    "capability",
    "model",
    "calls",
    "errors",
    "fallbacks",
    "p50_ms",
    "p95_ms",
    "prompt_tokens",
    "completion_tokens",
)


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
