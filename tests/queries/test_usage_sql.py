"""The usage reads fold in SQL: the percentiles the database places agree with the
histogram read in Python; day buckets follow local midnights (DST included); the route
and key-source filters; the scheduler's periodic health check."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.queries.test_usage import call, flush, meter
from tests.support import USAGE_POINT_FIELDS
from webapp import rollup
from webapp.extensions import db
from webapp.models import HealthCheck
from webapp.models.rollup import LATENCY_BUCKETS
from webapp.operations import activation
from webapp.queries import usage

NOW = datetime(2026, 3, 10, 12, 20, tzinfo=UTC)


def test_sql_percentiles_match_the_histogram_read_in_python(app):
    """Random latencies in three groups: each point's p50/p95 is what ``percentile`` reads
    from the same histogram (the old Python fold), to the rounding."""
    rng = random.Random(7)
    expected = {}
    for model in ("a", "b", "c"):
        counts = [0] * LATENCY_BUCKETS
        for _ in range(rng.randint(1, 120)):
            latency = int(rng.lognormvariate(5, 1.5))
            counts[rollup.latency_bucket(latency)] += 1
            route = rng.choice(("live", "split", "fallback"))  # rows the query must merge
            meter(NOW, latency_ms=latency, **call(model=model, route=route))
        expected[model] = (usage.percentile(counts, 0.5), usage.percentile(counts, 0.95))
    flush()
    points = usage.series(usage.parse_query({}, now=NOW + timedelta(minutes=1)))
    found = {p["model"]: (p["p50_ms"], p["p95_ms"]) for p in points}
    assert set(found) == set(expected)
    for model, (p50, p95) in expected.items():
        assert found[model] == (pytest.approx(p50, abs=0.11), pytest.approx(p95, abs=0.11))


def test_one_call_and_the_slowest_bucket(app):
    meter(NOW, latency_ms=1, **call(model="fast"))
    meter(NOW, latency_ms=10**7, **call(model="slow"))  # beyond the last edge
    flush()
    points = {
        p["model"]: p for p in usage.series(usage.parse_query({}, now=NOW + timedelta(hours=1)))
    }
    assert points["fast"]["p50_ms"] == 0.5 and points["fast"]["p95_ms"] == 0.9
    assert 80_000 < points["slow"]["p50_ms"] <= 120_000


def test_day_buckets_follow_local_midnight_across_a_dst_change(app):
    app.config["APP_TIMEZONE"] = "Europe/Berlin"  # summer time starts 2026-03-29 at 01:00 UTC
    meter(datetime(2026, 3, 28, 22, 59, tzinfo=UTC), **call())  # 23:59 on the 28th (CET)
    meter(datetime(2026, 3, 28, 23, 0, tzinfo=UTC), **call())  # 00:00 on the 29th
    meter(datetime(2026, 3, 29, 21, 59, tzinfo=UTC), **call())  # 23:59 CEST, the 29th
    meter(datetime(2026, 3, 29, 22, 0, tzinfo=UTC), **call())  # 00:00 on the 30th
    flush()
    q = usage.parse_query({"from": "2026-03-27", "to": "2026-03-30", "bucket": "day"})
    assert [(p["bucket_start"], p["calls"]) for p in usage.series(q)] == [
        ("2026-03-28T00:00:00+01:00", 1),
        ("2026-03-29T00:00:00+01:00", 2),
        ("2026-03-30T00:00:00+02:00", 1),
    ]


def test_route_and_key_source_filters(app):
    meter(NOW, **call(route="live", key_source="shared"))
    meter(NOW, **call(route="split", key_source="personal"))
    meter(NOW, outcome="provider_error", **call(route="fallback", key_source="shared"))
    flush()

    def calls(**args) -> int:
        q = usage.parse_query(args, now=NOW + timedelta(minutes=1))
        return sum(p["calls"] for p in usage.series(q))

    assert calls() == 3
    assert calls(route="split") == 1
    assert calls(key_source="shared") == 2
    assert calls(route="fallback", key_source="shared") == 1
    assert calls(route="split", key_source="shared") == 0
    assert calls(route="explicit") == 0


@pytest.mark.parametrize(
    ("args", "field"),
    [({"route": "sideways"}, "route"), ({"key_source": "borrowed"}, "key_source")],
)
def test_unknown_route_or_key_source_is_refused(app, args, field):
    from webapp.errors import ValidationError

    with pytest.raises(ValidationError) as caught:
        usage.parse_query(args)
    assert field in caught.value.errors


def test_the_api_takes_the_new_filters_and_documents_them(api):
    now = datetime.now(UTC)
    meter(now, **call(route="split", key_source="personal"))
    meter(now, **call(route="live", key_source="shared"))
    flush()
    data = api("GET", "/usage/?route=split").get_json()["data"]
    assert [p["calls"] for p in data] == [1]
    assert set(data[0]) == USAGE_POINT_FIELDS  # the answer's fields are §10's, unchanged
    assert api("GET", "/usage/?key_source=shared").get_json()["data"][0]["calls"] == 1
    refused = api("GET", "/usage/?route=sideways")
    assert refused.status_code == 400
    assert "route" in refused.get_json()["errors"]
    params = {
        p["name"]: p
        for p in api("GET", "/openapi.json").get_json()["paths"]["/usage/"]["get"]["parameters"]
    }
    assert params["route"]["schema"]["enum"] == list(usage.ROUTES)
    assert params["key_source"]["schema"]["enum"] == list(usage.KEY_SOURCES)


# --- the scheduler's periodic health check ---------------------------------------------


def test_scheduler_once_checks_live_groups_when_an_interval_is_set(
    app, runner, provider, make_model
):
    gpt = make_model(provider, "gpt-4o", caps=["chat", "code"], model_id="openai/gpt-4o")
    activation.activate(gpt, actor=None)
    make_model(provider, "idle", caps=["image"])  # no live model: not checked

    result = runner.invoke(args=["scheduler", "--once"])
    assert result.exit_code == 0, result.output
    db.session.rollback()
    assert db.session.scalars(select(HealthCheck)).all() == []  # off by default

    app.config["HEALTH_CHECK_INTERVAL"] = 600
    result = runner.invoke(args=["scheduler", "--once"])
    assert result.exit_code == 0, result.output
    assert result.output.count("health ") == 2
    db.session.rollback()
    rows = db.session.scalars(select(HealthCheck).order_by(HealthCheck.capability)).all()
    assert [(r.capability, r.ok, r.checked_by_id) for r in rows] == [
        ("chat", True, None),
        ("code", True, None),
    ]


def test_a_bad_interval_turns_the_checks_off(app, runner, provider, make_model):
    gpt = make_model(provider, "gpt-4o", caps=["chat"], model_id="openai/gpt-4o")
    activation.activate(gpt, actor=None)
    app.config["HEALTH_CHECK_INTERVAL"] = "often"
    result = runner.invoke(args=["scheduler", "--once"])
    assert result.exit_code == 0
    db.session.rollback()
    assert db.session.scalars(select(HealthCheck)).all() == []
