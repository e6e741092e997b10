"""Growth: the lookup and the switch at 10, 1,000 and 100,000 models, PostgreSQL.

One database per size (``mcp_bench_g<N>``), all three open in this process, timed
interleaved (``common.interleaved``: rounds, the order rotating), so the sizes are
compared under the same load:

- ``get_active_model`` uncached (``ACTIVE_MODEL_CACHE_TTL=0``: the query and the
  snapshot every call), for the hot provider's ``chat``;
- the switch: ``activation.activate`` of one of two models of the hot provider's
  ``chat`` group, alternately (each call a committed transaction, with its audit);
- one ``PATCH /api/v1/ai-models/<id>/ {"is_active": true}`` with a token, through the
  test client (in process, no HTTP server), alternately on the same two models.

The catalogue grows around a hot provider of fixed size (10 models): the other
providers hold the rest (100 models each, as many providers as it takes). What grows
is the catalogue, not the group being switched; a switch locks its group's rows, so it
grows with the group, by design.

    .venv/bin/python bench/growth.py     # or through bench/run.py (section 9)
"""

from __future__ import annotations

import os

import common as c

SECTION = "9"
SIZES = (10, 1_000, 100_000)
HOT_MODELS = 10
PER_PROVIDER = 100


def bulk_catalogue(total: int) -> None:
    """``total`` models in Core bulk inserts: the hot provider ("hot", 10 models, the
    first chat model active) and as many 100-model providers as the rest needs."""
    from sqlalchemy import insert, select

    from webapp.extensions import db
    from webapp.models import AIModel, ModelCapability, Provider, utcnow

    now = utcnow()
    others = max(0, total - HOT_MODELS)
    slugs = ["hot"] + [f"p{i:04d}" for i in range((others + PER_PROVIDER - 1) // PER_PROVIDER)]
    db.session.execute(
        insert(Provider),
        [{"slug": s, "name": s.upper(), "base_url": "", "created_at": now} for s in slugs],
    )
    ids = dict(db.session.execute(select(Provider.slug, Provider.id)).all())
    plan = [("hot", i) for i in range(min(total, HOT_MODELS))]
    plan += [(slugs[1 + k // PER_PROVIDER], k % PER_PROVIDER) for k in range(others)]
    for start in range(0, len(plan), 20_000):
        chunk = plan[start : start + 20_000]
        db.session.execute(
            insert(AIModel),
            [
                {
                    "provider_id": ids[slug],
                    "name": f"m{i:04d}",
                    "model_id": f"{slug}/m{i:04d}",
                    "display_name": f"{slug} model {i}",
                    "description": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for slug, i in chunk
            ],
        )
    models = db.session.execute(select(AIModel.id, AIModel.provider_id, AIModel.name)).all()
    hot = ids["hot"]
    rows = []
    for model_id, provider_id, name in models:
        for cap in ["chat"] if provider_id == hot else c.capabilities_of(int(name[1:])):
            active = provider_id == hot and name == "m0000"
            rows.append(
                {
                    "model_id": model_id,
                    "provider_id": provider_id,
                    "capability": cap,
                    "is_active": active,
                }
            )
    for start in range(0, len(rows), 20_000):
        db.session.execute(insert(ModelCapability), rows[start : start + 20_000])
    db.session.commit()
    db.session.execute(db.text("ANALYZE"))
    db.session.commit()


def prepare(total: int):
    """The app on its own database, filled; the hot group's two models and a token."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import AIModel, Provider
    from webapp.operations import admins

    name = f"{c.PG_DB}_g{total}"
    c.pg_recreate(name)
    app = c.make_app(c.pg_url(name), ACTIVE_MODEL_CACHE_TTL=0)
    with app.app_context():
        bulk_catalogue(total)
        hot = db.session.scalar(select(Provider.id).where(Provider.slug == "hot"))
        pair = list(
            db.session.scalars(
                select(AIModel.id).where(AIModel.provider_id == hot).order_by(AIModel.id).limit(2)
            )
        )
        boss = admins.create_admin("boss", c.PASSWORD, "superadmin", actor="bench")
        _, token = admins.create_token(boss, "bench")
        db.session.remove()
    return app, name, pair, token


def timers(app, pair: list[int], token: str) -> dict:
    from webapp.extensions import db
    from webapp.operations import activation
    from webapp.queries import lookup

    turn = {"switch": 0, "patch": 0}
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}

    def lookup_once():
        with app.app_context():
            assert lookup.get_active_model("hot", "chat") is not None
            db.session.remove()

    def switch_once():
        turn["switch"] ^= 1
        with app.app_context():
            activation.activate(pair[turn["switch"]], ["chat"], actor="bench")
            db.session.remove()

    def patch_once():
        turn["patch"] ^= 1
        path = f"/api/v1/ai-models/{pair[turn['patch']]}/"
        response = client.patch(path, json={"is_active": True}, headers=auth)
        assert response.status_code == 200, response.get_data(as_text=True)[:200]

    return {"lookup": lookup_once, "switch": switch_once, "patch": patch_once}


def main() -> None:
    prepared = [(total, *prepare(total)) for total in SIZES]
    try:
        funcs = {}
        for total, app, _name, pair, token in prepared:
            for kind, fn in timers(app, pair, token).items():
                funcs[f"{kind}@{total}"] = fn
        result = c.interleaved(funcs, runs=7, target=0.3)
    finally:
        for _total, app, name, *_ in prepared:
            with app.app_context():
                from webapp.extensions import db

                db.session.remove()
                db.engine.dispose()
            c.pg_drop(name)
    rows = []
    labels = {
        "lookup": "get_active_model uncached, PostgreSQL (per call)",
        "switch": "activation.activate, one group switch, PostgreSQL (per call, committed)",
        "patch": "PATCH is_active through the test client, PostgreSQL (per request)",
    }
    for kind, what in labels.items():
        small, large = f"{kind}@{SIZES[0]}", f"{kind}@{SIZES[-1]}"
        figures = ", ".join(f"{n:,}: {c.fmt_time(result[f'{kind}@{n}']['median'])}" for n in SIZES)
        ratio = c.ratio(result, large, small)
        rows.append(
            c.row(
                SECTION,
                f"{what} at {', '.join(f'{n:,}' for n in SIZES)} models",
                figures,
                f"the same at {SIZES[0]} models",
                ratio_value=ratio,
                note=f"ratio = {SIZES[-1]:,} / {SIZES[0]} models (median of per-round ratios);"
                f" 1,000 / 10: {c.ratio(result, f'{kind}@1000', small):.2f}×",
                flag=ratio > 1.5,
                medians={n: result[f"{kind}@{n}"]["median"] for n in SIZES},
            )
        )
    patch = max(result[f"patch@{n}"]["median"] for n in SIZES)  # the goal holds at every size
    rows[-1]["note"] += f"; goal < 10 ms at every size: {'met' if patch < 0.010 else 'not met'}"
    rows[-1]["flag"] = rows[-1]["flag"] or patch >= 0.010
    c.emit(SECTION, rows)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
