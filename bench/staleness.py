"""Section 6: staleness across workers. gunicorn with 4 workers on PostgreSQL; after
each switch (PATCH is_active through the API), 8 threads poll
GET /api/v1/ai-models/active_model/?provider=fresh&capability=chat as fast as they
can; every poll carries an ``X-Probe`` number that gunicorn's access log writes next
to the worker's pid, so each answer is tied to the worker that gave it.

- Redis as the cache (``CACHE_URL=redis://…/14``): answers that still name the old
  model after the switch returned (target: none), and how long until every worker
  has answered with the new one.
- In-process cache (``CACHE_URL`` unset, ``ACTIVE_MODEL_CACHE_TTL=300``): the same,
  polling for 5 s after the switch: the workers that did not serve the switch keep
  the old answer until the TTL, which is why production needs Redis.
"""

from __future__ import annotations

import itertools
import json
import tempfile
import threading
import time
from pathlib import Path

import common as c

WORKERS = 4
POLLERS = 8
REDIS_SWITCHES = 6 if c.QUICK else 20
REDIS_WINDOW = 0.5  # seconds of polling after each switch
MEMORY_SWITCHES = 2
MEMORY_WINDOW = 5.0
PATH = "/api/v1/ai-models/active_model/?provider=fresh&capability=chat"


def setup(cache_url: str | None) -> tuple[list[int], str]:
    from webapp.extensions import db
    from webapp.models import AIModel, ModelCapability, Provider

    c.pg_recreate()
    env = c.server_env(cache_url)
    c.flask_cli("db", "upgrade", env=env)
    app = c.make_app(c.pg_url(), cache_url or "")
    with app.app_context():
        provider = Provider(slug="fresh", name="Fresh", base_url="")
        db.session.add(provider)
        db.session.flush()
        ids = []
        for i in range(3):
            model = AIModel(
                provider_id=provider.id,
                name=f"fresh-m{i}",
                model_id=f"fresh/m{i}",
                display_name=f"Fresh model {i}",
            )
            model.capability_rows.append(
                ModelCapability(capability="chat", provider_id=provider.id, is_active=i == 0)
            )
            db.session.add(model)
            db.session.flush()
            ids.append(model.id)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    c.flask_cli("create-admin", "fresher", "--password", c.PASSWORD, "--role", "operator", env=env)
    token = c.flask_cli("create-token", "fresher", "--name", "bench", env=env).strip()
    return ids, token.splitlines()[-1].strip()


def poll(base: str, token: str, seconds: float, probes, out: list) -> None:
    """POLLERS threads, GET active_model back to back for ``seconds``."""
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        mine = []
        while time.perf_counter() < deadline:
            probe = next(probes)
            start = time.perf_counter()
            status, body = c.http(base, "GET", PATH, token, headers={"X-Probe": str(probe)})
            done = time.perf_counter()
            model = None
            if status == 200:
                model = json.loads(body)["data"]["id"]
            mine.append((probe, done, status, model, done - start))
        out.extend(mine)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(POLLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 30)


def worker_of(access_log: Path) -> dict[int, str]:
    pids = {}
    for line in access_log.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            pids[int(parts[1])] = parts[0]
    return pids


def run(cache_url: str | None, switches: int, window: float, tmp: Path) -> dict:
    label = "redis" if cache_url else "memory"
    ids, token = setup(cache_url)
    log = tmp / f"access-{label}.log"
    extra = {"BENCH_TMP": str(tmp), "ACTIVE_MODEL_CACHE_TTL": "300"}
    proc, base = c.start_gunicorn(c.server_env(cache_url, **extra), WORKERS, access_log=log)
    probes = itertools.count(1)
    rounds = []
    try:
        warm: list = []
        poll(base, token, 1.0, probes, warm)  # every worker has the answer cached
        active = ids[0]
        for _ in range(switches):
            # A → B → C → A …: a worker's stale answer never equals the new target.
            target = ids[(ids.index(active) + 1) % len(ids)]
            status, body = c.http(
                base, "PATCH", f"/api/v1/ai-models/{target}/", token, {"is_active": True}
            )
            switched = time.perf_counter()
            if status != 200:
                raise RuntimeError(f"switch failed: {status} {body[:200]!r}")
            active = target
            answers: list = []
            poll(base, token, window, probes, answers)
            rounds.append({"target": target, "switched": switched, "answers": answers})
        time.sleep(0.3)  # the access log is written after each response
    finally:
        c.stop_gunicorn(proc)
    c.pg_drop()
    if cache_url:
        c.redis_clear()
    pids = worker_of(log)
    warm_workers = {pids.get(p) for p, *_ in warm} - {None}
    poll_times = [a[4] for rnd in rounds for a in rnd["answers"]]
    stale = total = errors = 0
    until_all: list[float] = []
    never = 0
    stale_by_worker: dict[str, int] = {}
    for rnd in rounds:
        fresh_seen: dict[str, float] = {}
        for probe, done, status, model, _ in rnd["answers"]:
            total += 1
            if status != 200:
                errors += 1
                continue
            pid = pids.get(probe, "?")
            if model != rnd["target"]:
                stale += 1
                stale_by_worker[pid] = stale_by_worker.get(pid, 0) + 1
            else:
                fresh_seen.setdefault(pid, done - rnd["switched"])
        if len(fresh_seen) >= WORKERS:
            until_all.append(max(sorted(fresh_seen.values())[:WORKERS]))
        else:
            never += 1
    return {
        "switches": switches,
        "window": window,
        "answers": total,
        "stale": stale,
        "errors": errors,
        "stale_by_worker": stale_by_worker,
        "workers_seen": len(set(pids.values())),
        "warm_workers": len(warm_workers),
        "until_all_median": sorted(until_all)[len(until_all) // 2] if until_all else None,
        "until_all_max": max(until_all) if until_all else None,
        "never_all_fresh": never,
        "poll_p50": c.percentile(poll_times, 50),
    }


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="mcp-bench-"))
    shared = run(c.REDIS_URL, REDIS_SWITCHES, REDIS_WINDOW, tmp)
    local = run(None, MEMORY_SWITCHES, MEMORY_WINDOW, tmp)

    def until(r: dict) -> str:
        if r["until_all_median"] is None:
            return f"never within {r['window']:.1f} s"
        text = (
            f"every worker answered fresh {c.fmt_time(r['until_all_median'])} after the switch"
            f" (median; max {c.fmt_time(r['until_all_max'])}; one poll takes"
            f" {c.fmt_time(r['poll_p50'])}, so this is bounded by polling, not by staleness)"
        )
        if r["never_all_fresh"]:
            text += f"; {r['never_all_fresh']} switches never within {r['window']:.1f} s"
        return text

    rows = [
        c.row(
            "6",
            f"stale answers after a switch, Redis cache ({shared['switches']} switches,"
            f" {shared['window']:.1f} s of polling each)",
            f"{shared['stale']} stale of {shared['answers']}",
            "0 stale",
            note=until(shared) + f"; {shared['workers_seen']} workers answered,"
            f" {shared['errors']} errors",
            flag=shared["stale"] > 0 or shared["errors"] > 0,
            result=shared,
        ),
        c.row(
            "6",
            f"stale answers after a switch, in-process cache, TTL 300 s"
            f" ({local['switches']} switches, {local['window']:.0f} s of polling each)",
            f"{local['stale']} stale of {local['answers']}",
            "why production needs Redis",
            note=until(local) + f"; stale answers per worker pid {local['stale_by_worker']};"
            f" {local['errors']} errors",
            result=local,
        ),
    ]
    c.emit("6", rows)


if __name__ == "__main__":
    main()
