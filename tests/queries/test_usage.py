"""Metered calls become hourly rollups; the usage reads answer from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from webapp import metering, rollup
from webapp.errors import ValidationError
from webapp.extensions import db
from webapp.models import UsageCall, UsageHourly
from webapp.models.rollup import LATENCY_EDGES
from webapp.queries import usage

NOW = datetime(2026, 3, 10, 12, 20, tzinfo=UTC)


def meter(at: datetime | None = None, **fields) -> None:
    """Meter one call the way the gateway does, optionally at a given instant."""
    values = {"origin": "gateway", "outcome": "ok", "latency_ms": 100} | fields
    row = metering.row(**values)
    if at is not None:
        row["at"] = at
    metering.current_meter().add(row)


def flush() -> None:
    metering.current_meter().flush()
    db.session.rollback()  # a fresh read, not the snapshot of an earlier one


def raw_count() -> int:
    return db.session.scalar(select(func.count()).select_from(UsageCall))


def call(provider="openai", capability="chat", model="gpt-4o", **fields):
    return {"provider": provider, "capability": capability, "model": model} | fields


def bucket_of(latency: float) -> tuple[float, float]:
    """The bounds of the histogram bucket holding ``latency`` (estimates are rounded to 0.1)."""
    i = rollup.latency_bucket(latency)
    return (0.0 if i == 0 else LATENCY_EDGES[i - 1]) - 0.05, LATENCY_EDGES[i] + 0.05


def assert_figures(point: dict, counts: tuple, tokens: tuple, latencies: tuple) -> None:
    """A usage point's calls, errors and fallbacks, its prompt and completion tokens, and
    its p50 and p95 in the histogram buckets of the two ``latencies``."""
    assert (point["calls"], point["errors"], point["fallbacks"]) == counts
    assert (point["prompt_tokens"], point["completion_tokens"]) == tokens
    for field, latency in zip(("p50_ms", "p95_ms"), latencies, strict=True):
        low, high = bucket_of(latency)
        assert low <= point[field] <= high, field


def test_flush_upserts_one_rollup_row_per_hour_and_group(app):
    hour = NOW.replace(minute=0)
    for minute, outcome in ((1, "ok"), (5, "ok"), (59, "provider_error")):
        meter(
            hour + timedelta(minutes=minute),
            outcome=outcome,
            prompt_tokens=10,
            completion_tokens=3,
            **call(),
        )
    meter(hour + timedelta(minutes=7), route="fallback", **call(model="gpt-4o-mini"))
    flush()
    meter(hour + timedelta(minutes=30), **call())  # a second batch adds to the same row
    flush()

    rows = {r.model: r for r in db.session.scalars(select(UsageHourly))}
    assert set(rows) == {"gpt-4o", "gpt-4o-mini"}
    main = rows["gpt-4o"]
    assert main.bucket_start == hour
    assert (main.calls, main.errors, main.fallbacks) == (4, 1, 0)
    assert (main.prompt_tokens, main.completion_tokens) == (30, 9)
    assert main.latency_sum_ms == 400
    assert rows["gpt-4o-mini"].fallbacks == 1
    assert raw_count() == 5


def test_calls_in_two_hours_make_two_rows(app):
    meter(NOW.replace(minute=59, second=59), **call())
    meter(NOW.replace(minute=0) + timedelta(hours=1), **call())
    flush()
    starts = sorted(db.session.scalars(select(UsageHourly.bucket_start)))
    assert starts == [NOW.replace(minute=0), NOW.replace(minute=0) + timedelta(hours=1)]


def test_a_failed_write_keeps_raw_rows_and_rollups_together(app, monkeypatch):
    meter(NOW, **call())

    def broken(conn, rows):
        raise RuntimeError("rollup down")

    monkeypatch.setattr(rollup, "roll_up", broken)
    flush()
    assert raw_count() == 0
    monkeypatch.undo()
    flush()  # the batch was kept and is written once, with its rollup
    assert raw_count() == 1
    assert db.session.scalar(select(UsageHourly.calls)) == 1


def test_percentiles_come_from_the_histogram_within_one_bucket():
    latencies = [10] * 50 + [200] * 45 + [3000] * 5
    counts = [0] * len(LATENCY_EDGES)
    for latency in latencies:
        counts[rollup.latency_bucket(latency)] += 1
    low, high = bucket_of(10)
    assert low <= usage.percentile(counts, 0.5) <= high
    low, high = bucket_of(200)
    assert low <= usage.percentile(counts, 0.95) <= high
    assert usage.percentile([0] * len(LATENCY_EDGES), 0.5) is None
    assert rollup.latency_bucket(10**9) == len(LATENCY_EDGES) - 1


def test_series_by_hour_counts_errors_tokens_and_percentiles(app):
    for latency in (100,) * 19 + (2500,):
        meter(NOW, latency_ms=latency, prompt_tokens=5, completion_tokens=2, **call())
    meter(NOW, outcome="provider_timeout", latency_ms=2500, **call())
    meter(NOW, **call(provider="anthropic", model="claude"))
    flush()
    q = usage.parse_query({"provider": "openai"}, now=NOW + timedelta(minutes=5))
    [point] = usage.series(q)
    assert point["bucket_start"] == NOW.replace(minute=0).isoformat()
    assert_figures(point, (21, 1, 0), (100, 40), (100, 2500))


def test_day_buckets_are_tehran_days(app):
    # Tehran is UTC+03:30: its 10 March begins at 9 March 20:30 UTC. The hour bucket that
    # starts at 20:00 UTC (23:30 Tehran) belongs to 9 March; the one at 21:00 to 10 March.
    meter(datetime(2026, 3, 9, 20, 10, tzinfo=UTC), **call())
    meter(datetime(2026, 3, 9, 21, 5, tzinfo=UTC), **call())
    meter(datetime(2026, 3, 10, 20, 0, tzinfo=UTC), **call())  # 23:30 on 10 March
    meter(datetime(2026, 3, 10, 21, 0, tzinfo=UTC), **call())  # 00:30 on 11 March
    flush()
    q = usage.parse_query({"from": "2026-03-09", "to": "2026-03-11", "bucket": "day"})
    got = {p["bucket_start"]: p["calls"] for p in usage.series(q)}
    assert got == {
        "2026-03-09T00:00:00+03:30": 1,
        "2026-03-10T00:00:00+03:30": 2,
        "2026-03-11T00:00:00+03:30": 1,
    }
    q = usage.parse_query({"from": "2026-03-10", "to": "2026-03-10", "bucket": "day"})
    assert [(p["bucket_start"], p["calls"]) for p in usage.series(q)] == [
        ("2026-03-10T00:00:00+03:30", 2)
    ]


@pytest.mark.parametrize(
    "args, field",
    [
        ({"bucket": "week"}, "bucket"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-03-10T10:00:00"}, "from"),  # no offset
        ({"from": "2026-03-10", "to": "2026-03-01"}, "to"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "to"),
        ({"capability": "telepathy"}, "capability"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_filters_are_refused_with_the_field(app, args, field):
    with pytest.raises(ValidationError) as caught:
        usage.parse_query(args, now=NOW)
    assert field in caught.value.errors


def test_iso_datetimes_with_an_offset_are_instants(app):
    q = usage.parse_query({"from": "2026-03-10T10:00:00+03:30", "to": "2026-03-10T08:00:00Z"})
    assert q.start == datetime(2026, 3, 10, 6, 30, tzinfo=UTC)
    assert q.end == datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


def test_prune_deletes_old_raw_rows_and_keeps_rollups(app, runner):
    now = datetime.now(UTC)
    meter(now - timedelta(days=40), **call())
    meter(now - timedelta(days=31), **call())
    meter(now - timedelta(days=2), **call())
    flush()
    result = runner.invoke(args=["usage", "prune"])
    assert result.exit_code == 0, result.output
    assert "deleted 2 usage rows" in result.output
    assert raw_count() == 1
    assert db.session.scalar(select(func.sum(UsageHourly.calls))) == 3
    result = runner.invoke(args=["usage", "prune", "--days", "1"])
    assert "deleted 1 usage rows" in result.output


def test_prune_refuses_a_zero_retention_and_deletes_nothing(app, runner):
    meter(datetime.now(UTC) - timedelta(hours=1), **call())
    flush()
    result = runner.invoke(args=["usage", "prune", "--days", "0"])
    assert result.exit_code != 0
    assert raw_count() == 1
