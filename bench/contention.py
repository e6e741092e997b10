"""Section 5: contention. gunicorn with 4 workers on PostgreSQL and Redis, 16 client
threads switching models through the JSON API (PATCH /api/v1/ai-models/<id>/
{"is_active": true}, a Bearer token from ``flask create-token``):

- contended: every client switches among the same 4 models of one provider, each
  with chat and code, so every switch takes both groups from another model;
- uncontended (the baseline): each client has a provider of its own with 2 models.

The two phases alternate in 5 s slices (A, B, A, B, …; each 20 s in all), then the database
is checked: no group with two active models, every contended group has one, and the
hot provider's chat and code are held by the same model (an activation is atomic).
All traffic goes to 127.0.0.1, bounded in time and count; the server is stopped.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import common as c

CLIENTS = 16
PHASE_SECONDS = 5  # per slice; each phase runs in SLICES slices, alternating
SLICES = 2 if c.QUICK else 4
MAX_REQUESTS_PER_CLIENT = 20_000
HOT_MODELS = 4


def setup() -> tuple[list[int], list[list[int]], str]:
    """The schema (db upgrade), the models, an operator and their token."""
    from webapp.extensions import db
    from webapp.models import AIModel, ModelCapability, Provider

    env = c.server_env()
    c.flask_cli("db", "upgrade", env=env)
    app = c.make_app(c.pg_url(), c.REDIS_URL)
    with app.app_context():

        def provider_with(slug: str, n: int) -> list[int]:
            provider = Provider(slug=slug, name=slug.title(), base_url="")
            db.session.add(provider)
            db.session.flush()
            ids = []
            for i in range(n):
                model = AIModel(
                    provider_id=provider.id,
                    name=f"{slug}-m{i}",
                    model_id=f"{slug}/m{i}",
                    display_name=f"{slug} model {i}",
                )
                for cap in ("chat", "code"):
                    model.capability_rows.append(
                        ModelCapability(capability=cap, provider_id=provider.id, is_active=i == 0)
                    )
                db.session.add(model)
                db.session.flush()
                ids.append(model.id)
            return ids

        hot = provider_with("hot", HOT_MODELS)
        solo = [provider_with(f"solo-{k:02d}", 2) for k in range(CLIENTS)]
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    c.flask_cli("create-admin", "bencher", "--password", c.PASSWORD, "--role", "operator", env=env)
    token = c.flask_cli("create-token", "bencher", "--name", "bench", env=env).strip()
    return hot, solo, token.splitlines()[-1].strip()


def run_phase(base: str, token: str, choices: list[list[int]], seconds: float) -> dict:
    """CLIENTS threads, client k switching among choices[k] until the deadline."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS + 1)
    state = {"deadline": 0.0}

    def client(k: int) -> None:
        rng = random.Random(k)
        mine = choices[k]
        last = None
        local_lat, local_err = [], []
        start.wait()
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            if time.perf_counter() >= state["deadline"]:
                break
            target = rng.choice([m for m in mine if m != last])
            t0 = time.perf_counter()
            status, body = c.http(
                base, "PATCH", f"/api/v1/ai-models/{target}/", token, {"is_active": True}
            )
            local_lat.append(time.perf_counter() - t0)
            if status == 200:
                last = target
            else:
                local_err.append(f"{status} {body[:120]!r}")
        with lock:
            latencies.extend(local_lat)
            errors.extend(local_err)

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    state["deadline"] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    start.wait()
    for t in threads:
        t.join(timeout=seconds + 30)
    elapsed = time.perf_counter() - t0
    return {"latencies": latencies, "errors": errors, "elapsed": elapsed}


def check_invariant(hot: list[int]) -> dict:
    import psycopg

    with psycopg.connect(c.pg_url(), connect_timeout=3) as conn:
        doubles = conn.execute(
            "SELECT provider_id, capability, count(*) FROM model_capability"
            " WHERE is_active GROUP BY provider_id, capability HAVING count(*) > 1"
        ).fetchall()
        empty = conn.execute(
            "SELECT count(*) FROM (SELECT provider_id, capability FROM model_capability"
            " GROUP BY provider_id, capability HAVING NOT bool_or(is_active)) AS g"
        ).fetchone()[0]
        hot_holders = conn.execute(
            "SELECT capability, model_id FROM model_capability WHERE is_active"
            " AND model_id = ANY(%s) ORDER BY capability",
            (hot,),
        ).fetchall()
    return {
        "groups_with_two_active": len(doubles),
        "groups_with_none": empty,
        "hot_chat_and_code_same_model": len({m for _, m in hot_holders}) == 1
        and len(hot_holders) == 2,
    }


def summary(parts: list[dict]) -> dict:
    lat = [x for p in parts for x in p["latencies"]]
    errors = [e for p in parts for e in p["errors"]]
    elapsed = sum(p["elapsed"] for p in parts)
    ok = len(lat) - len(errors)
    return {
        "switches_per_s": ok / elapsed,
        "requests": len(lat),
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
        "p50": statistics.median(lat) if lat else float("nan"),
        "p95": c.percentile(lat, 95),
        "p99": c.percentile(lat, 99),
        "seconds": elapsed,
    }


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="mcp-bench-"))
    c.pg_recreate()
    c.redis_clear()
    proc = None
    try:
        hot, solo, token = setup()
        proc, base = c.start_gunicorn(c.server_env(BENCH_TMP=str(tmp)))
        contended_choices = [hot] * CLIENTS
        parts: dict[str, list] = {"contended": [], "uncontended": []}
        sequential = []
        for i in range(30):  # the service time: one client, no queue
            t0 = time.perf_counter()
            c.http(
                base,
                "PATCH",
                f"/api/v1/ai-models/{hot[i % HOT_MODELS]}/",
                token,
                {"is_active": True},
            )
            sequential.append(time.perf_counter() - t0)
        for phase in ("contended", "uncontended") * SLICES:
            choices = contended_choices if phase == "contended" else solo
            parts[phase].append(run_phase(base, token, choices, PHASE_SECONDS))
    finally:
        if proc is not None:
            c.stop_gunicorn(proc)
    invariant = check_invariant(hot)
    c.pg_drop()
    c.redis_clear()
    con, unc = summary(parts["contended"]), summary(parts["uncontended"])
    ok = invariant["groups_with_two_active"] == 0 and invariant["hot_chat_and_code_same_model"]

    def fmt(s: dict) -> str:
        return (
            f"{s['switches_per_s']:.0f}/s; p50 {c.fmt_time(s['p50'])}, p95 {c.fmt_time(s['p95'])},"
            f" p99 {c.fmt_time(s['p99'])}; {s['errors']} errors of {s['requests']}"
        )

    rows = [
        c.row(
            "5",
            f"contended switches, {CLIENTS} clients, 1 provider × {HOT_MODELS} models"
            f" ({con['seconds']:.0f} s)",
            fmt(con),
            f"uncontended, each client its own provider: {fmt(unc)}",
            con["switches_per_s"] / unc["switches_per_s"],
            note="ratio = throughput contended / uncontended; p50 ratio "
            f"{con['p50'] / unc['p50']:.2f}×; a closed loop of {CLIENTS} clients, so latency is"
            f" mostly queueing: one client alone waits {c.fmt_time(statistics.median(sequential))}"
            " per PATCH (median of 30)"
            + (f"; errors: {con['error_samples'] + unc['error_samples']}" if con["errors"] else ""),
            flag=bool(con["errors"] or unc["errors"]),
            contended=con,
            uncontended=unc,
        ),
        c.row(
            "5",
            "invariant after the run",
            "holds" if ok else "BROKEN",
            "no group with two active models",
            note=f"{invariant['groups_with_two_active']} groups with two active models;"
            f" hot chat and code held by one model: {invariant['hot_chat_and_code_same_model']};"
            f" {invariant['groups_with_none']} empty groups",
            flag=not ok,
            invariant=invariant,
        ),
    ]
    c.emit("5", rows)


if __name__ == "__main__":
    main()
