"""GET /api/v1/usage/: metered calls come back per bucket and model, from the rollups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.queries.test_usage import assert_figures, call, flush, meter
from tests.support import USAGE_POINT_FIELDS
from webapp.extensions import db
from webapp.models import UsageHourly

API = "/api/v1"


def test_metered_calls_appear_with_counts_tokens_and_percentiles(api, app):
    now = datetime.now(UTC)
    for _ in range(9):
        meter(now, latency_ms=120, prompt_tokens=11, completion_tokens=4, **call())
    meter(now, outcome="provider_error", http_status=502, latency_ms=900, **call())
    meter(now, route="fallback", **call(provider="anthropic", model="claude"))
    flush()

    response = api("GET", "/usage/?provider=openai&capability=chat")
    assert response.status_code == 200
    body = response.get_json()
    assert body["metaData"]["status"] == "success"
    [point] = body["data"]
    assert set(point) == USAGE_POINT_FIELDS
    assert point["bucket_start"] == now.replace(minute=0, second=0, microsecond=0).isoformat()
    assert (point["provider"], point["capability"], point["model"]) == ("openai", "chat", "gpt-4o")
    assert_figures(point, (10, 1, 0), (99, 36), (120, 900))

    everyone = api("GET", "/usage/").get_json()["data"]
    assert {(p["provider"], p["fallbacks"]) for p in everyone} == {("openai", 0), ("anthropic", 1)}


def test_day_buckets_cut_at_tehran_midnight(api, app):
    meter(datetime(2026, 3, 9, 20, 10, tzinfo=UTC), **call())  # 23:40 Tehran, 9 March
    meter(datetime(2026, 3, 9, 21, 0, tzinfo=UTC), **call())  # 00:30 Tehran, 10 March
    flush()
    data = api("GET", "/usage/?from=2026-03-09&to=2026-03-10&bucket=day").get_json()["data"]
    assert [(p["bucket_start"], p["calls"]) for p in data] == [
        ("2026-03-09T00:00:00+03:30", 1),
        ("2026-03-10T00:00:00+03:30", 1),
    ]
    hourly = api("GET", "/usage/?from=2026-03-10T00:00:00%2B03:30&to=2026-03-11").get_json()
    assert [p["bucket_start"] for p in hourly["data"]] == ["2026-03-09T21:00:00+00:00"]


@pytest.mark.parametrize(
    "query, field",
    [
        ("bucket=week", "bucket"),
        ("from=not-a-date", "from"),
        ("from=2026-03-10T10:00:00", "from"),
        ("from=2026-03-10&to=2026-03-09", "to"),
        ("capability=telepathy", "capability"),
        ("size=3", "size"),
    ],
)
def test_bad_input_is_a_persian_400_and_changes_nothing(api, app, query, field):
    meter(datetime.now(UTC), **call())
    flush()
    before = db.session.scalar(select(func.sum(UsageHourly.calls)))
    response = api("GET", f"/usage/?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["metaData"]["status"] == "error"
    assert "data" not in body
    assert field in body["errors"]
    assert any("\u0600" <= ch <= "\u06ff" for ch in body["metaData"]["message"])
    db.session.rollback()
    assert db.session.scalar(select(func.sum(UsageHourly.calls))) == before


def test_needs_view_models_and_a_sign_in(client, bearer):
    assert client.get(f"{API}/usage/").status_code == 401
    response = client.get(f"{API}/usage/", headers=bearer("viewer"))
    assert response.status_code == 200


def test_an_empty_range_is_an_empty_list(api):
    since = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    body = api("GET", f"/usage/?from={since}&bucket=day").get_json()
    assert body["data"] == []


def test_the_openapi_document_describes_usage(api):
    doc = api("GET", "/openapi.json").get_json()
    operation = doc["paths"]["/usage/"]["get"]
    assert {p.get("name") for p in operation["parameters"]} >= {
        "provider", "capability", "model", "from", "to", "bucket"
    }  # fmt: skip
