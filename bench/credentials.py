"""Section 2: ``resolve_credentials`` per call and statements per call, for each path
of the key priority (personal key, shared key, a background job), against the
Fernet decryption every resolution has to do (``secrets.decrypt`` of the same token).

A resolved key is kept in the process's local layer (``lookup.remembered``), so the
warm call is a dict read; the rows marked "uncached" run the resolution itself
(``credentials._resolve``: the queries and the decryption) for comparison.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import common as c


def main() -> None:
    from webapp import secrets
    from webapp.errors import NoApiAccess
    from webapp.extensions import db
    from webapp.models import Provider
    from webapp.operations import admins, catalog
    from webapp.queries.credentials import _resolve, resolve_credentials

    tmp = Path(tempfile.mkdtemp(prefix="mcp-bench-"))
    app = c.make_app(c.sqlite_url(tmp))
    rows = []
    with app.app_context(), app.test_request_context():
        c.load_catalogue(20, 10)
        provider = catalog.create_provider(
            {
                "slug": "keyed",
                "name": "Keyed",
                "shared_api_enabled": True,
                "shared_api_key": "sk-shared-0123456789abcdef",
            },
            actor="bench",
        )
        personal = admins.create_admin("personal", c.PASSWORD, "operator", actor="bench")
        shared = admins.create_admin("sharer", c.PASSWORD, "operator", actor="bench")
        viewer = admins.create_admin("looker", c.PASSWORD, "viewer", actor="bench")
        admins.save_provider_settings(
            personal, provider, personal_api_key="sk-personal-0123456789abcdef"
        )
        db.session.commit()
        provider = db.session.get(Provider, provider.id)
        token = provider.shared_api_key_encrypted
        cases = {
            "personal key": lambda: resolve_credentials(provider, personal),
            "shared key": lambda: resolve_credentials(provider, shared),
            "background job (shared)": lambda: resolve_credentials(provider, None),
            "by slug, background job": lambda: resolve_credentials("keyed", None),
        }
        assert cases["personal key"]().source == "personal"
        assert cases["shared key"]().source == "shared"

        def denied():
            try:
                resolve_credentials(provider, viewer)
            except NoApiAccess:
                return None
            raise AssertionError("a viewer got a key")

        cases["no access (viewer)"] = denied
        cases["personal key, uncached"] = lambda: _resolve(provider, personal)
        cases["shared key, uncached"] = lambda: _resolve(provider, shared)
        counter = c.QueryCounter(db.engine)
        queries = {}
        for name, fn in cases.items():
            fn()  # loads whatever the first call would (expired objects after the commit)
            with counter.count() as seen:
                fn()
            queries[name] = len(seen)
        counter.close()
        timed = c.interleaved(cases | {"decrypt": lambda: secrets.decrypt(token)})
        db.session.remove()
        db.engine.dispose()
    for name in cases:
        limit = "" if name.startswith("no access") else "Fernet decrypt"
        rows.append(
            c.row(
                "2",
                f"resolve_credentials, {name} (per call)",
                c.fmt_time(timed[name]["median"]),
                f"{limit} {c.fmt_time(timed['decrypt']['median'])}" if limit else "",
                c.ratio(timed, name, "decrypt") if limit else None,
                note=f"{queries[name]} queries per call",
                queries=queries[name],
                timing=timed[name],
            )
        )
    c.emit("2", rows, decrypt=timed["decrypt"])


if __name__ == "__main__":
    main()
