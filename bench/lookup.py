"""Section 1: ``get_active_model``, cached and uncached, against its limits.

``python bench/lookup.py sqlite|postgres|redis`` — one process per comparison:

- sqlite / postgres: the uncached call (``ACTIVE_MODEL_CACHE_TTL=0``: a cache miss,
  the query, the snapshot) against the same SQL sent through the DBAPI cursor; the
  cached call (in-process cache) against a plain dict lookup; statements per call.
- redis: the cached call with Redis as the cache (answered by the process's local layer
  once its invalidation listener is subscribed) against a plain dict lookup (goal ≤ 5×),
  and the shared layer alone (the local one missed: the ``MGET`` and the snapshot) against
  the same ``MGET`` sent with the redis client (plus ``json.loads``).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import common as c

PROVIDERS, MODELS = 20, 100
SLUG, CAP = "prov-07", "code"


def raw_query(engine, send_once):
    """The SQL the app sends (captured while ``send_once()`` runs), through the driver's
    own cursor."""
    from sqlalchemy import event

    sent = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "model_capability" in statement:
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        send_once()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    sql, params = sent[-1]
    raw = engine.raw_connection()
    cursor = raw.cursor()

    def run():
        cursor.execute(sql, params)
        return cursor.fetchall()

    assert run(), "the raw query found no row"
    return run, raw


def db_comparison(backend: str) -> list[dict]:
    from webapp.extensions import db
    from webapp.queries import lookup

    label = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[backend]
    if backend == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix="mcp-bench-"))
        url = c.sqlite_url(tmp)
    else:
        url = c.pg_recreate()
    rows = []
    try:
        app = c.make_app(url, ACTIVE_MODEL_CACHE_TTL=0)
        with app.app_context():
            c.load_catalogue(PROVIDERS, MODELS)
            assert lookup.get_active_model(SLUG, CAP) is not None
            counter = c.QueryCounter(db.engine)
            with counter.count() as seen:
                lookup.get_active_model(SLUG, CAP)
            steady = list(seen)
            scans = c.sqlite_scans(db.engine, counter.executed) if backend == "sqlite" else None
            db.session.remove()  # a request starts with a fresh session
            with counter.count() as seen:
                lookup.get_active_model(SLUG, CAP)
            fresh = list(seen)
            db.session.rollback()
            run_raw, raw = raw_query(db.engine, lambda: lookup.load_active_model(SLUG, CAP))
            uncached = c.interleaved(
                {
                    "uncached": lambda: lookup.get_active_model(SLUG, CAP),
                    "orm_query": lambda: lookup.load_active_model(SLUG, CAP),
                    "raw": run_raw,
                }
            )
            raw.close()
            # The cached path, in-process cache.
            app.config["ACTIVE_MODEL_CACHE_TTL"] = 300
            lookup.get_active_model(SLUG, CAP)
            plain = {(SLUG, CAP): lookup.get_active_model(SLUG, CAP)}
            with counter.count() as seen:
                lookup.get_active_model(SLUG, CAP)
            cached_queries = len(seen)
            cached = c.interleaved(
                {
                    "cached": lambda: lookup.get_active_model(SLUG, CAP),
                    "dict": lambda: plain[(SLUG, CAP)],
                }
            )
            counter.close()
            db.session.remove()
            db.engine.dispose()
    finally:
        if backend == "postgres":
            c.pg_drop()
    r_un = c.ratio(uncached, "uncached", "raw")
    r_orm = c.ratio(uncached, "orm_query", "raw")
    r_ca = c.ratio(cached, "cached", "dict")
    rows.append(
        c.row(
            "1",
            f"get_active_model uncached, {label} (per call)",
            c.fmt_time(uncached["uncached"]["median"]),
            f"raw driver query {c.fmt_time(uncached['raw']['median'])}",
            r_un,
            note=f"of which load_active_model (query + snapshot)"
            f" {c.fmt_time(uncached['orm_query']['median'])} ({r_orm:.1f}×); this process's CPU"
            f" per call {c.fmt_time(uncached['uncached']['cpu_median'])} vs raw"
            f" {c.fmt_time(uncached['raw']['cpu_median'])}",
            flag=r_un > 3,
            uncached=uncached,
        )
    )
    rows.append(
        c.row(
            "1",
            f"queries per uncached call, {label}",
            str(len([s for s in steady if not s.strip().upper().startswith("BEGIN")])),
            "1 (DESIGN.md §2)",
            note="in an open transaction: "
            + c.describe_statements(steady)
            + "; first call of a request: "
            + c.describe_statements(fresh),
            statements=steady,
        )
    )
    if scans is not None:
        rows.append(
            c.row(
                "1",
                "lookup's query plan, SQLite",
                "SCAN model_capability (every row)" if scans else "index search",
                "SEARCH … USING INDEX uq_model_capability_one_active",
                note="EXPLAIN QUERY PLAN of the statement sent; the raw driver query above is"
                " the same SQL, so it pays for the same plan",
                flag=bool(scans),
                scans=scans,
            )
        )
    rows.append(
        c.row(
            "1",
            f"get_active_model cached (in-process), {label} (per call)",
            c.fmt_time(cached["cached"]["median"]),
            f"dict lookup {c.fmt_time(cached['dict']['median'])}",
            r_ca,
            note=f"{cached_queries} queries per cached call",
            cached=cached,
        )
    )
    return rows


def redis_comparison() -> list[dict]:
    import redis

    from webapp.extensions import cache, db
    from webapp.queries import lookup

    tmp = Path(tempfile.mkdtemp(prefix="mcp-bench-"))
    app = c.make_app(c.sqlite_url(tmp), c.REDIS_URL)
    rows = []
    try:
        with app.app_context():
            assert cache.is_shared
            c.load_catalogue(PROVIDERS, MODELS)
            lookup.get_active_model(SLUG, CAP)
            counter = c.QueryCounter(db.engine)
            with counter.count() as seen:
                assert lookup.get_active_model(SLUG, CAP) is not None
            cached_queries = len(seen)
            counter.close()
            client = redis.Redis.from_url(c.REDIS_URL)
            keys = [
                c.CACHE_PREFIX + lookup.generation_key(SLUG),
                c.CACHE_PREFIX + lookup.cache_key(SLUG, CAP),
            ]

            def raw_mget():
                return [json.loads(v) if v is not None else None for v in client.mget(keys)]

            assert raw_mget()[1] is not None
            cache.listening()
            assert app.extensions["cache_invalidations"].connected.wait(10)
            lookup.get_active_model(SLUG, CAP)  # into the local layer, now that it is live
            plain = {(SLUG, CAP): lookup.get_active_model(SLUG, CAP)}
            layer = app.extensions["local_cache"]

            def shared_only():
                layer.entries.clear()  # as if the local layer had missed
                return lookup.get_active_model(SLUG, CAP)

            result = c.interleaved(
                {
                    "cached": lambda: lookup.get_active_model(SLUG, CAP),
                    "shared": shared_only,
                    "mget": raw_mget,
                    "dict": lambda: plain[(SLUG, CAP)],
                }
            )
            client.close()
            db.session.remove()
            db.engine.dispose()
    finally:
        c.redis_clear()
    r_local = c.ratio(result, "cached", "dict")
    rows.append(
        c.row(
            "1",
            "get_active_model cached, Redis configured (local layer) (per call)",
            c.fmt_time(result["cached"]["median"]),
            f"dict lookup {c.fmt_time(result['dict']['median'])}",
            r_local,
            note=f"goal ≤ 5×; {cached_queries} queries per call",
            flag=r_local > 5,
            result=result,
        )
    )
    rows.append(
        c.row(
            "1",
            "get_active_model, local layer missed, Redis answers (per call)",
            c.fmt_time(result["shared"]["median"]),
            f"raw redis MGET + json.loads {c.fmt_time(result['mget']['median'])}",
            c.ratio(result, "shared", "mget"),
            note="what a worker pays once per key after each change",
        )
    )
    return rows


def main() -> None:
    backend = sys.argv[1]
    rows = redis_comparison() if backend == "redis" else db_comparison(backend)
    c.emit(f"1-{backend}", rows)


if __name__ == "__main__":
    main()
