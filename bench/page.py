"""Section 3: the models page (GET /models) with a large catalogue, signed in, through
the test client: server time per request, statements per request (at 5×20 and
20×100: it must not grow), bytes; against the limit, ``render_template`` of the same
template with the page's context already built in memory. The page's time is also
split into its parts (loading, grouping, rendering) to say where the rest goes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import common as c

SIZES = ((5, 20), (20, 100))
TEMPLATE = "models/index.html"
# The first screen at scale: (providers, models per provider) for 10, 1,000, 2,000 and
# 100,000 models in all; the 2,000-model one also times a group opening in place.
SCALE = ((1, 10), (10, 100), (20, 100), (100, 1000))
FIRST_SCREEN_LIMIT = 100_000  # bytes
GROUP_OPEN_LIMIT = 0.150  # seconds of server time


def page_context():
    """The page's context, built the way ``webapp.views.models.index`` builds it
    (its own builder when it has one)."""
    from flask import request

    from webapp.views import models

    for name in ("page_context", "index_context", "_index_context", "_page_context"):
        builder = getattr(models, name, None)
        if callable(builder):
            return builder()
    from webapp.capabilities import CAPABILITIES, label
    from webapp.queries.groups import Filters, build_sections, load_providers

    filters = Filters.from_args(request.args)
    providers = load_providers()
    sections = build_sections(providers, filters)
    all_groups = [g for s in build_sections(providers, Filters()) for g in s.groups]
    return {
        "sections": sections,
        "filters": filters,
        "providers": providers,
        "capabilities": [(cap, label(cap)) for cap in CAPABILITIES],
        "can_manage": models._can_manage(),
        "back_url": models._back_url(filters),
        "totals": {
            "models": sum(len(p.models) for p in providers),
            "groups": len(all_groups),
            "empty": sum(1 for g in all_groups if g.active is None),
        },
    }


def bulk_catalogue(providers: int, models: int) -> list[int]:
    """``load_catalogue``'s shape with Core bulk inserts (100,000 models in seconds):
    one executemany per table, the first model of each group active."""
    from sqlalchemy import insert

    from webapp.extensions import db
    from webapp.models import AIModel, ModelCapability, Provider

    provider_rows = [
        {
            "id": p + 1,
            "slug": f"prov-{p:03d}",
            "name": f"Provider {p:03d}",
            "base_url": f"https://prov-{p:03d}.example.invalid/v1",
            "shared_api_enabled": True,
        }
        for p in range(providers)
    ]
    db.session.execute(insert(Provider), provider_rows)
    model_rows, cap_rows = [], []
    for provider in provider_rows:
        taken: set[str] = set()
        for i in range(models):
            model_id = len(model_rows) + 1
            model_rows.append(
                {
                    "id": model_id,
                    "provider_id": provider["id"],
                    "name": f"model-{i:04d}",
                    "model_id": f"{provider['slug']}/model-{i:04d}",
                    "display_name": f"Model {i:04d} of {provider['name']}",
                    "description": "",
                }
            )
            for cap in c.capabilities_of(i):
                cap_rows.append(
                    {
                        "model_id": model_id,
                        "capability": cap,
                        "provider_id": provider["id"],
                        "is_active": cap not in taken,
                    }
                )
                taken.add(cap)
    db.session.execute(insert(AIModel), model_rows)
    db.session.execute(insert(ModelCapability), cap_rows)
    db.session.commit()
    return [p["id"] for p in provider_rows]


def first_screen(providers: int, models: int, tmp: Path, open_group: bool) -> dict:
    """GET /models signed in: bytes, radios, server time (and a group's opening)."""
    import time

    from webapp.extensions import db
    from webapp.operations import admins

    app = c.make_app(c.sqlite_url(tmp, f"screen-{providers}x{models}.db"))
    out: dict = {"models": providers * models}
    with app.app_context():
        t0 = time.perf_counter()
        ids = bulk_catalogue(providers, models)
        out["seed_s"] = time.perf_counter() - t0
        admins.create_admin("screen", c.PASSWORD, "superadmin", actor="bench")
        db.session.remove()
    client = app.test_client()
    c.sign_in(client, "screen")
    response = client.get("/models")
    assert response.status_code == 200, response.status_code
    out["bytes"] = len(response.data)
    out["radios"] = response.data.count(b'type="radio"')
    out["lines"] = response.data.count(b'class="model-group-line')
    funcs = {"page": lambda: client.get("/models")}
    if open_group:
        url = f"/models/groups/{ids[0]}/chat"
        opened = client.get(url, headers={"HX-Request": "true"})
        assert opened.status_code == 200
        out["group_bytes"] = len(opened.data)
        out["group_radios"] = opened.data.count(b'type="radio"')
        funcs["group"] = lambda: client.get(url, headers={"HX-Request": "true"})
    runs = 3 if out["models"] > 10_000 else 7
    out["timed"] = c.interleaved(funcs, runs=runs, target=0.5)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return out


def measure(providers: int, models: int, tmp: Path, time_it: bool) -> dict:
    from flask import render_template
    from flask_login import login_user

    from webapp.extensions import db
    from webapp.operations import admins
    from webapp.queries.groups import Filters, build_sections, load_providers

    app = c.make_app(c.sqlite_url(tmp, f"page-{providers}x{models}.db"))
    out: dict = {"providers": providers, "models": models}
    with app.app_context():
        c.load_catalogue(providers, models)
        admin = admins.create_admin("pager", c.PASSWORD, "superadmin", actor="bench")
        admin_id = admin.id
        db.session.remove()
    client = app.test_client()
    c.sign_in(client, "pager")
    counter = None
    with app.app_context():
        counter = c.QueryCounter(db.engine)
        client.get("/models")
        with counter.count() as seen:
            response = client.get("/models")
        assert response.status_code == 200, response.status_code
        out["queries"] = len(seen)
        out["statements"] = c.describe_statements(seen)
        out["bytes"] = len(response.data)
        out["radios"] = response.data.count(b'type="radio"')
        if not time_it:
            counter.close()
            return out
        with app.test_request_context("/models"):
            from webapp.models import Admin

            login_user(db.session.get(Admin, admin_id))
            app.preprocess_request()
            context = page_context()
            with counter.count() as seen:
                html = render_template(TEMPLATE, **context)
            out["render_queries"] = len(seen)
            out["render_bytes"] = len(html.encode())
            providers_loaded = load_providers()

            timed = c.interleaved(
                {
                    "page": lambda: client.get("/models"),
                    "render": lambda: render_template(TEMPLATE, **context),
                    "load": lambda: load_providers(),
                    "group": lambda: (
                        build_sections(providers_loaded, Filters()),
                        build_sections(providers_loaded, Filters()),
                    ),
                },
                runs=7,
                target=0.8,
            )
        counter.close()
        db.session.remove()
        db.engine.dispose()
    out["timed"] = timed
    return out


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="mcp-bench-"))
    small = measure(*SIZES[0], tmp, time_it=False)
    large = measure(*SIZES[1], tmp, time_it=True)
    t = large["timed"]
    r = c.ratio(t, "page", "render")
    size = f"{large['providers']}×{large['models']}"
    rows = [
        c.row(
            "3",
            f"models page {size}, {large['radios']} radios (server time per request)",
            c.fmt_time(t["page"]["median"]),
            f"render_template from memory {c.fmt_time(t['render']['median'])}",
            r,
            note=f"loading {c.fmt_time(t['load']['median'])}, grouping (twice)"
            f" {c.fmt_time(t['group']['median'])}; the render itself runs"
            f" {large['render_queries']} queries; CPU per request"
            f" {c.fmt_time(t['page']['cpu_median'])} vs render"
            f" {c.fmt_time(t['render']['cpu_median'])}"
            f" ({t['page']['cpu_median'] / t['render']['cpu_median']:.2f}×)",
            flag=r > 2,
            timed=t,
        ),
        c.row(
            "3",
            "models page, queries per request",
            f"{small['queries']} at {small['providers']}×{small['models']},"
            f" {large['queries']} at {size}",
            "constant",
            note=large["statements"],
            flag=small["queries"] != large["queries"],
        ),
        c.row(
            "3",
            "models page, bytes",
            f"{c.fmt_bytes(small['bytes'])} at {small['providers']}×{small['models']},"
            f" {c.fmt_bytes(large['bytes'])} at {size}",
            f"in-memory render {c.fmt_bytes(large['render_bytes'])}",
            note="uncompressed HTML",
        ),
    ]
    screens = [first_screen(p, m, tmp, open_group=(p * m == 2000)) for p, m in SCALE]
    for screen in screens:
        t = screen["timed"]
        n = screen["models"]
        rows.append(
            c.row(
                "3",
                f"models page first screen at {n:,} models",
                f"{c.fmt_bytes(screen['bytes'])}, {c.fmt_time(t['page']['median'])}",
                f"{c.fmt_bytes(FIRST_SCREEN_LIMIT)}",
                note=f"{screen['radios']} radios, {screen['lines']} collapsed group lines;"
                f" seeded in {screen['seed_s']:.1f} s",
                flag=screen["bytes"] > FIRST_SCREEN_LIMIT,
                timed=t,
            )
        )
        if "group" in t:
            rows.append(
                c.row(
                    "3",
                    f"a group opening in place at {n:,} models (server time)",
                    c.fmt_time(t["group"]["median"]),
                    c.fmt_time(GROUP_OPEN_LIMIT),
                    note=f"{screen['group_radios']} radios, {c.fmt_bytes(screen['group_bytes'])}",
                    flag=t["group"]["median"] > GROUP_OPEN_LIMIT,
                    timed=t,
                )
            )
    c.emit(
        "3",
        rows,
        small=small,
        large={k: v for k, v in large.items() if k != "timed"},
        screens=[{k: v for k, v in s.items() if k != "timed"} for s in screens],
    )


if __name__ == "__main__":
    main()
