"""Usage at scale: ``ROWS`` metered calls over 30 days in PostgreSQL, folded into the
hourly rollups in SQL (the same buckets as the metering's writer); then the overview (the
query, and ``GET /`` signed in), 30-day usage queries (every model, one provider, one model,
by route, by key source, by day) and the cost of ``metering.record`` on the call path
(p50/p99 of single calls).

    .venv/bin/python bench/usage.py          # ROWS=1000000 by default (BENCH_USAGE_ROWS)

Prints a markdown table and, on its last line, the JSON document ``bench/run.py`` reads.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import partial

from common import PASSWORD, load_catalogue, make_app, pg_drop, pg_recreate
from sqlalchemy import func, select, text

ROWS = int(os.environ.get("BENCH_USAGE_ROWS", "1000000"))
DB_NAME = "mcp_bench_usage"
PROVIDERS, MODELS = 5, 20
CHUNK = 50_000

GENERATE = """
INSERT INTO usage_call (at, origin, provider, capability, model, route, key_source, outcome,
                        http_status, latency_ms, prompt_tokens, completion_tokens)
SELECT now() - random() * interval '30 days', 'gateway', p.slug, mc.capability, m.model_id,
       CASE WHEN g % 50 = 0 THEN 'fallback' WHEN g % 7 = 0 THEN 'split' ELSE 'live' END,
       CASE WHEN g % 3 = 0 THEN 'personal' ELSE 'shared' END,
       CASE WHEN g % 40 = 0 THEN 'provider_error' ELSE 'ok' END, 200,
       (20 + 3000 * random() ^ 3)::int, (random() * 800)::int, (random() * 300)::int
FROM generate_series(1, :rows) AS g
JOIN (SELECT row_number() OVER (ORDER BY model_id, capability) - 1 AS n, model_id, capability,
             provider_id FROM model_capability) mc ON mc.n = g % :groups
JOIN ai_model m ON m.id = mc.model_id
JOIN provider p ON p.id = mc.provider_id
"""


def timed(fn, runs: int) -> tuple[float, float]:
    """Median and max of ``runs`` calls, in ms."""
    fn()  # warm
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def _fold_sql() -> str:
    """The rollups from the raw rows in one ``INSERT … SELECT`` (as migration 0009 folds
    older calls): at 10 million rows, folding through Python would take most of an hour."""
    from webapp.models.rollup import LATENCY_EDGES, SUM_COLUMNS

    cases = []
    for i, edge in enumerate(LATENCY_EDGES):
        low = f"latency_ms > {LATENCY_EDGES[i - 1]!r} AND " if i else ""
        high = f"latency_ms <= {edge!r}" if i < len(LATENCY_EDGES) - 1 else "true"
        cases.append(f"SUM(CASE WHEN {low}{high} THEN 1 ELSE 0 END)")
    return (
        "INSERT INTO usage_hourly (bucket_start, provider, capability, model, route, "
        "key_source, " + ", ".join(SUM_COLUMNS) + ") "
        "SELECT date_trunc('hour', at), provider, capability, model, route, key_source, "
        "COUNT(*), SUM(CASE WHEN outcome <> 'ok' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN route = 'fallback' THEN 1 ELSE 0 END), SUM(prompt_tokens), "
        "SUM(completion_tokens), SUM(latency_ms), " + ", ".join(cases) + " FROM usage_call "
        "GROUP BY date_trunc('hour', at), provider, capability, model, route, key_source"
    )


def fill(db) -> tuple[float, float]:
    """Generate ``ROWS`` raw calls, then fold them; seconds for each step."""
    groups = db.session.scalar(text("SELECT count(*) FROM model_capability"))
    start = time.perf_counter()
    db.session.execute(text(GENERATE), {"rows": ROWS, "groups": groups})
    db.session.commit()
    generated = time.perf_counter() - start
    db.session.execute(text(_fold_sql()))
    db.session.commit()
    with db.engine.begin() as conn:  # committed: the planner's statistics must stay
        conn.execute(text("ANALYZE"))
    return generated, time.perf_counter() - start - generated


def record_cost(app) -> tuple[float, float]:
    from webapp import metering

    meter = metering.current_meter()
    samples = []
    for i in range(200_000):
        start = time.perf_counter_ns()
        metering.record(
            meter=meter, origin="gateway", outcome="ok", latency_ms=120, provider="prov-00",
            capability="chat", model="prov-00/model-000", route="live", key_source="shared",
            prompt_tokens=10, completion_tokens=i % 50,
        )  # fmt: skip
        samples.append(time.perf_counter_ns() - start)
    meter.flush()
    samples.sort()
    return samples[len(samples) // 2] / 1e6, samples[int(len(samples) * 0.99)] / 1e6


def main() -> dict:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from tests.support import sign_in
    from webapp.extensions import db
    from webapp.models import UsageHourly
    from webapp.operations.admins import create_admin
    from webapp.queries import usage

    url = pg_recreate(DB_NAME)
    try:
        app = make_app(url)
        with app.app_context():
            load_catalogue(PROVIDERS, MODELS)
            create_admin("bench", PASSWORD, "viewer", actor="cli")
            generated, folded = fill(db)
            hourly = db.session.scalar(select(func.count()).select_from(UsageHourly))
            now = datetime.now(UTC)
            month = usage.UsageQuery(now - timedelta(days=30), now, "hour")
            one = usage.UsageQuery(now - timedelta(days=30), now, "hour", provider="prov-00")
            split = usage.UsageQuery(now - timedelta(days=30), now, "hour", route="split")
            mine = usage.UsageQuery(
                now - timedelta(days=30), now, "hour", provider="prov-00", key_source="personal"
            )
            days = usage.UsageQuery(now - timedelta(days=30), now, "day")
            model = usage.UsageQuery(
                now - timedelta(days=30), now, "hour", provider="prov-00", model="prov-00/model-000"
            )
            client = app.test_client()
            sign_in(client, "bench", PASSWORD)
            since = (now - timedelta(days=30)).isoformat().replace("+", "%2B")
            path = f"/api/v1/usage/?provider=prov-00&model=prov-00/model-000&from={since}"

            def api():
                assert client.get(path).status_code == 200

            rows = [
                ("overview query (usage.overview)", *timed(usage.overview, 20)),
                ("GET / (overview page, signed in)", *timed(lambda: client.get("/"), 20)),
                ("30-day hourly, every model", *timed(lambda: usage.series(month), 5)),
                ("30-day hourly, one provider", *timed(lambda: usage.series(one), 10)),
                ("30-day hourly, one model", *timed(lambda: usage.series(model), 20)),
                ("30-day hourly, route split, every model", *timed(lambda: usage.series(split), 5)),
                ("30-day hourly, one provider, personal", *timed(partial(usage.series, mine), 9)),
                ("30-day daily, every model", *timed(lambda: usage.series(days), 10)),
                ("GET /api/v1/usage/ 30 days hourly, one model", *timed(api, 20)),
                ("metering.record (ms per call: p50, p99)", *record_cost(app)),
            ]  # fmt: skip
    finally:
        pg_drop(DB_NAME)
    print(
        f"{ROWS} raw rows ({generated:.0f} s to generate), {hourly} hourly rollup rows "
        f"({folded:.0f} s to fold)"
    )
    print("| what | median ms | max ms |\n| --- | --- | --- |")
    for name, median, worst in rows:
        print(f"| {name} | {median:.3f} | {worst:.3f} |")
    return {"section": "usage", "rows": [list(r) for r in rows], "raw": ROWS, "hourly": hourly}


if __name__ == "__main__":
    print(json.dumps(main()))
