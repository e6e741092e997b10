"""Section 4: one radio switch through htmx, against Flask-Admin, same process, same DB.

Ours (the panel, signed in as a superadmin, 20×100 catalogue on SQLite): the radio's
first POST /models/choose answers with the confirmation <dialog> (the preview), the
confirmed POST (confirm=1) activates and answers with the affected groups and the
flash messages out of band.

The peer: a benchmark-only Flask app on the same database file with a Flask-Admin
``ModelView`` over ``model_capability`` (the table that holds activation): its list
view, and its edit-form save (POST, 302, the list again). Flask-Admin cannot switch a
group in one save (the partial unique index refuses a second active row), so a
switch there is two saves: the old row off, then the new row on.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import common as c

PROVIDER_SLUG, CAP = "prov-03", "code"


def flask_admin_app(db_url: str):
    from flask import Flask
    from flask_admin import Admin
    from flask_admin.contrib.sqla import ModelView
    from flask_babel import Babel

    from webapp.db import sqlite_engine_options
    from webapp.extensions import cache, db
    from webapp.models import ModelCapability

    class CapabilityView(ModelView):
        column_list = ["model_id", "capability", "provider_id", "is_active", "activated_at"]
        form_columns = ["is_active"]

    app = Flask("bench_flask_admin")
    app.config.update(
        SECRET_KEY="bench-flask-admin",
        SQLALCHEMY_DATABASE_URI=db_url,
        SQLALCHEMY_ENGINE_OPTIONS=sqlite_engine_options() if db_url.startswith("sqlite") else {},
    )
    db.init_app(app)
    # The models' flush hooks move the cache generation (ours): the peer's saves pay for
    # that too, through the same in-process cache.
    cache.init_app(app)
    Babel(app)
    admin = Admin(app, name="bench")
    admin.add_view(CapabilityView(ModelCapability, db, endpoint="cap"))
    return app


def main() -> None:
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import ModelCapability, Provider
    from webapp.operations import admins

    tmp = Path(tempfile.mkdtemp(prefix="mcp-bench-"))
    url = c.sqlite_url(tmp)
    panel = c.make_app(url)
    with panel.app_context():
        c.load_catalogue(20, 100)
        admins.create_admin("toggler", c.PASSWORD, "superadmin", actor="bench")
        provider_id = db.session.scalar(select(Provider.id).where(Provider.slug == PROVIDER_SLUG))
        group = list(
            db.session.scalars(
                select(ModelCapability)
                .where(
                    ModelCapability.provider_id == provider_id, ModelCapability.capability == CAP
                )
                .order_by(ModelCapability.is_active.desc(), ModelCapability.model_id)
            )
        )
        first, second = group[0].model_id, group[1].model_id
        assert group[0].is_active and not group[1].is_active
        db.session.remove()
    ours = panel.test_client()
    c.sign_in(ours, "toggler")
    csrf = c.csrf_from(ours.get("/models").data)
    headers = {
        "HX-Request": "true",
        "HX-Current-URL": "http://localhost/models",
        "X-CSRFToken": csrf,
    }
    state = {"active": first}

    def our_switch(samples: dict) -> None:
        target = second if state["active"] == first else first
        form = {"provider": str(provider_id), "capability": CAP, "model": str(target)}
        c0 = time.process_time()
        t0 = time.perf_counter()
        r1 = ours.post("/models/choose", data=form, headers=headers)
        t1 = time.perf_counter()
        c1 = time.process_time()
        r2 = ours.post("/models/choose", data=form | {"confirm": "1"}, headers=headers)
        t2 = time.perf_counter()
        samples["confirmed_cpu"].append(time.process_time() - c1)
        samples["confirm_cpu"].append(c1 - c0)
        assert r1.status_code == 200 and b"<dialog open" in r1.data, r1.data[:300]
        assert r2.status_code == 200 and b'id="flash-status"' in r2.data, r2.data[:300]
        state["active"] = target
        samples["confirm"].append(t1 - t0)
        samples["confirmed"].append(t2 - t1)
        samples["switch"].append(t2 - t0)
        samples["confirm_bytes"].append(len(r1.data))
        samples["confirmed_bytes"].append(len(r2.data))

    def count_switch() -> dict:
        """Statements of one switch's two requests, COMMIT marked where it happens."""
        from sqlalchemy import event

        counter = c.QueryCounter(db.engine)

        def committed(conn) -> None:
            if counter.on:
                counter.statements.append("COMMIT")

        event.listen(db.engine, "commit", committed)
        target = second if state["active"] == first else first
        form = {"provider": str(provider_id), "capability": CAP, "model": str(target)}
        try:
            with counter.count() as dialog:
                ours.post("/models/choose", data=form, headers=headers)
            executed = list(counter.executed)
            with counter.count() as confirmed:
                r2 = ours.post("/models/choose", data=form | {"confirm": "1"}, headers=headers)
            executed += counter.executed
        finally:
            event.remove(db.engine, "commit", committed)
            counter.close()
        assert r2.status_code == 200 and b'id="flash-status"' in r2.data, r2.data[:300]
        state["active"] = target
        kinds = c.describe_statements(confirmed).split(", ")
        segments: list[list[str]] = [[]]
        for kind in kinds:
            if kind == "COMMIT":
                segments.append([])
            else:
                segments[-1].append(kind)
        return {
            "scans": c.sqlite_scans(db.engine, executed),
            "dialog": len([s for s in dialog if s != "COMMIT"]),
            "confirmed": len([k for k in kinds if k != "COMMIT"]),
            "segments": [dict(Counter(seg)) for seg in segments],
            "statements": [s for s in confirmed if s != "COMMIT"],
        }

    peer_app = flask_admin_app(url)
    peer = peer_app.test_client()
    list_page = peer.get("/admin/cap/")
    assert list_page.status_code == 200, list_page.status_code
    peer_state = {"active": first}

    def peer_save(model_id: int, on: bool) -> tuple[float, int, float]:
        c0 = time.process_time()
        t0 = time.perf_counter()
        r = peer.post(
            f"/admin/cap/edit/?id={model_id},{CAP}&url=/admin/cap/",
            data={"is_active": "y"} if on else {},
        )
        assert r.status_code == 302, (r.status_code, r.data[:300])
        listing = peer.get(r.headers["Location"])
        dt = time.perf_counter() - t0
        assert listing.status_code == 200
        return dt, len(r.data) + len(listing.data), time.process_time() - c0

    def peer_switch(samples: dict) -> None:
        old = peer_state["active"]
        new = second if old == first else first
        t_off, _, _ = peer_save(old, False)
        t_on, b_on, cpu_on = peer_save(new, True)
        samples["save_cpu"].append(cpu_on)
        peer_state["active"] = new
        samples["save"].append(t_on)
        samples["save_bytes"].append(b_on)
        samples["switch"].append(t_off + t_on)
        t0 = time.perf_counter()
        listing = peer.get("/admin/cap/")
        samples["list"].append(time.perf_counter() - t0)
        samples["list_bytes"].append(len(listing.data))

    # Warm both, then interleave rounds of batches.
    ours_s: dict[str, list] = {
        k: []
        for k in (
            "confirm",
            "confirmed",
            "switch",
            "confirm_bytes",
            "confirmed_bytes",
            "confirm_cpu",
            "confirmed_cpu",
        )
    }
    peer_keys = ("save", "save_bytes", "switch", "list", "list_bytes", "save_cpu")
    peer_s: dict[str, list] = {k: [] for k in peer_keys}
    with panel.app_context():
        for _ in range(2):
            our_switch({k: [] for k in ours_s})
        statements = count_switch()
        # Back: Flask-Admin switches the same two rows and expects the first one active.
        our_switch({k: [] for k in ours_s})
    with peer_app.app_context():
        for _ in range(2):
            peer_switch({k: [] for k in peer_s})
    rounds, batch = (3, 4) if c.QUICK else (7, 10)
    medians_ours: dict[str, list] = {k: [] for k in ours_s}
    medians_peer: dict[str, list] = {k: [] for k in peer_s}
    sides = {
        "ours": (panel, our_switch, medians_ours),
        "peer": (peer_app, peer_switch, medians_peer),
    }
    names = list(sides)
    for r in range(rounds):
        for side in names[r % 2 :] + names[: r % 2]:
            app, switch, medians = sides[side]
            batch_s = {k: [] for k in medians}
            with app.app_context():
                for _ in range(batch):
                    switch(batch_s)
            for k, v in batch_s.items():
                medians[k].append(statistics.median(v))
    with panel.app_context():
        db.session.remove()
        db.engine.dispose()
    with peer_app.app_context():
        db.session.remove()
        db.engine.dispose()

    def med(d, k):
        return statistics.median(d[k])

    def paired(a: list, b: list) -> float:
        return statistics.median(x / y for x, y in zip(a, b, strict=True))

    one_save = paired(medians_ours["switch"], medians_peer["save"])
    rows = [
        c.row(
            "4",
            "radio switch, confirmation request (the dialog)",
            f"{c.fmt_time(med(medians_ours, 'confirm'))}, "
            f"{c.fmt_bytes(med(medians_ours, 'confirm_bytes'))}",
            f"Flask-Admin list view {c.fmt_time(med(medians_peer, 'list'))},"
            f" {c.fmt_bytes(med(medians_peer, 'list_bytes'))}",
            paired(medians_ours["confirm"], medians_peer["list"]),
        ),
        c.row(
            "4",
            "radio switch, confirmed request (activate, affected groups, flash)",
            f"{c.fmt_time(med(medians_ours, 'confirmed'))}, "
            f"{c.fmt_bytes(med(medians_ours, 'confirmed_bytes'))}",
            f"Flask-Admin edit save round trip (POST, 302, list)"
            f" {c.fmt_time(med(medians_peer, 'save'))},"
            f" {c.fmt_bytes(med(medians_peer, 'save_bytes'))}",
            paired(medians_ours["confirmed"], medians_peer["save"]),
            note=f"CPU per request {c.fmt_time(med(medians_ours, 'confirmed_cpu'))} vs"
            f" {c.fmt_time(med(medians_peer, 'save_cpu'))}"
            f" ({med(medians_ours, 'confirmed_cpu') / med(medians_peer, 'save_cpu'):.2f}×)",
            flag=med(medians_ours, "confirmed") > med(medians_peer, "save"),
        ),
        c.row(
            "4",
            "radio switch, both requests",
            c.fmt_time(med(medians_ours, "switch")),
            f"Flask-Admin switch = 2 save round trips {c.fmt_time(med(medians_peer, 'switch'))}",
            paired(medians_ours["switch"], medians_peer["switch"]),
            note="Flask-Admin needs two saves: the partial unique index refuses a second"
            f" active row; vs one save round trip {one_save:.2f}×",
        ),
    ]
    order = ("BEGIN", "SELECT", "UPDATE", "INSERT", "DELETE")

    def kinds(segment: dict) -> str:
        known = sorted(segment, key=lambda k: (order.index(k) if k in order else 9, k))
        return ", ".join(f"{segment[k]} {k}" for k in known) or "none"

    rows.append(
        c.row(
            "4",
            "radio switch, statements per request",
            f"dialog {statements['dialog']}, confirmed {statements['confirmed']}",
            "",
            note="confirmed, split at each COMMIT: "
            + " → COMMIT → ".join(f"[{kinds(seg)}]" for seg in statements["segments"]),
        )
    )
    scans = statements["scans"]

    def where_of(statement: str) -> str:
        text = " ".join(statement.split())
        return "…" + text[text.find(" WHERE ") :][:140] if " WHERE " in text else text[:110]

    rows.append(
        c.row(
            "4",
            "radio switch, SELECTs that scan model_capability (SQLite plan)",
            f"{len(scans)} of the two requests' statements",
            "0 (the partial index answers every active-row filter)",
            note="; ".join(where_of(s) for s in scans),
            flag=bool(scans),
            scans=scans,
        )
    )
    c.emit("4", rows, ours=medians_ours, peer=medians_peer, statements=statements["statements"])


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    main()
