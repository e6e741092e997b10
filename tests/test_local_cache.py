"""The local layer in front of the shared cache (webapp/cache.py): warm answers with no
query and no Redis round trip, and still no stale answer a second after a commit, in
another app instance, in another process (the push through Redis) and through a Redis
restart (a private redis-server on a port of its own)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import support
from tests.test_faults import PrivateRedis
from webapp import secrets
from webapp.errors import NoApiAccess
from webapp.extensions import cache, db
from webapp.operations import activation, admins, catalog
from webapp.queries import lookup
from webapp.queries.credentials import resolve_credentials
from webapp.queries.lookup import get_active_model

ROOT = Path(__file__).resolve().parent.parent
KEY_A = "sk-local-layer-aaaa1111"
KEY_B = "sk-local-layer-bbbb2222"
SHARED_REDIS = os.environ.get("TEST_CACHE_URL") or "redis://127.0.0.1:6379/15"


def eventually(check, within: float) -> bool:
    """Whether ``check()`` holds at some point within ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def acme(keyed: bool = True):
    """acme with model-a live for chat, model-b beside it; returns (provider, a id, b id)."""
    make_provider = support.ProviderFactory()
    fields = {"shared_api_key": KEY_A, "shared_api_enabled": True} if keyed else {}
    p = make_provider("acme", **fields)
    make_model = support.ModelFactory(make_provider)
    a = make_model(p, "model-a", caps=["chat"], active=True)
    b = make_model(p, "model-b", caps=["chat"])
    return p, a.id, b.id


# --- one process ----------------------------------------------------------------------


def test_a_warm_lookup_runs_no_statement_and_needs_no_shared_cache(app, count_queries, monkeypatch):
    acme()
    support.trust_for_an_hour(monkeypatch)
    model = get_active_model("acme", "chat")
    assert model.name == "model-a"

    def no_shared_cache(*args):
        raise AssertionError("the shared cache was asked")

    monkeypatch.setattr(cache.backend, "get_many", no_shared_cache)
    with count_queries() as statements:
        for _ in range(5):
            assert get_active_model("acme", "chat") is model  # the same ready object
    assert statements == []


def test_a_warm_credential_resolution_runs_no_statement(
    app, count_queries, make_admin, monkeypatch
):
    p, _, _ = acme()
    admin = make_admin("operator")
    admins.save_provider_settings(admin, p, personal_api_key=KEY_B)
    support.trust_for_an_hour(monkeypatch)
    first = resolve_credentials(p.id, admin)
    with count_queries() as statements:
        again = resolve_credentials(p.id, admin)
        shared = resolve_credentials("acme", None)  # warmed below, then counted again
    assert (again.source, again.api_key) == ("personal", KEY_B) and again == first
    assert shared.api_key == KEY_A
    with count_queries() as statements:
        assert resolve_credentials("acme", None) == shared
    assert statements == []


def test_a_refusal_is_not_kept_and_speaks_the_callers_language(app, make_admin):
    p, _, _ = acme(keyed=False)
    viewer = make_admin("viewer")
    with pytest.raises(NoApiAccess):
        resolve_credentials(p.id, viewer)
    admins.save_provider_settings(viewer, p, personal_api_key=KEY_B)
    assert resolve_credentials(p.id, viewer).api_key == KEY_B  # at once: nothing was kept


def test_the_decrypted_key_stays_out_of_the_shared_cache(app, make_admin):
    p, _, _ = acme()
    resolve_credentials(p.id, make_admin("operator"))
    get_active_model("acme", "chat")
    backend = cache.backend
    if hasattr(backend, "client"):  # Redis: every value under the app's prefix
        values = [backend.client.get(k) for k in backend.client.scan_iter(backend.prefix + "*")]
        dump = b"".join(v for v in values if v).decode()
    else:
        dump = repr(backend._data)
    assert "model-a" in dump  # the shared cache is used...
    assert KEY_A not in dump  # ...but never for a key


def test_a_changed_or_deleted_key_is_seen_within_a_second_in_another_app(
    app, app_factory, make_admin
):
    """Two app instances on one database: with Redis the change is pushed, without it the
    database's generation carries it within GENERATION_MAX_AGE."""
    p, _, _ = acme()
    admin = make_admin("operator")
    admins.save_provider_settings(admin, p, personal_api_key=KEY_B)
    admin_id, provider_id = admin.id, p.id
    other = app_factory()

    def other_sees():
        with other.app_context():
            try:
                found = resolve_credentials(provider_id, db.session.get(admins.Admin, admin_id))
                return found.source, found.api_key
            except NoApiAccess:
                return None
            finally:
                db.session.remove()

    assert other_sees() == ("personal", KEY_B)
    within = lookup.GENERATION_MAX_AGE + 0.5

    admins.save_provider_settings(admin, p, personal_api_key=KEY_A)  # changed
    assert eventually(lambda: other_sees() == ("personal", KEY_A), within)
    admins.save_provider_settings(admin, p, personal_api_key=None)  # deleted: the shared one
    assert eventually(lambda: other_sees() == ("shared", KEY_A), within)
    catalog.update_provider(p, {"shared_api_key": KEY_B})  # the shared key changed
    assert eventually(lambda: other_sees() == ("shared", KEY_B), within)
    catalog.update_provider(p, {"shared_api_key": None})  # and deleted
    assert eventually(lambda: other_sees() is None, within)
    admins.save_provider_settings(admin, p, personal_api_key=KEY_A)
    assert eventually(lambda: other_sees() == ("personal", KEY_A), within)
    catalog.update_provider(p, {"base_url": "https://elsewhere.example/v1"})  # origin moved
    assert eventually(lambda: other_sees() is None, within)  # held back, no shared key


def test_an_admins_role_change_reaches_the_cached_key(app, make_admin):
    p, _, _ = acme()
    admin = make_admin("operator")
    assert resolve_credentials(p.id, admin).source == "shared"
    admins.update_admin(admin, role="viewer")  # may no longer use the shared key
    with pytest.raises(NoApiAccess):
        resolve_credentials(p.id, db.session.get(admins.Admin, admin.id))


def test_bad_input_changes_nothing_cached(app, make_admin):
    """A refused change (a Persian validation error) leaves the cached key as it was."""
    from webapp.errors import ValidationError

    p, _, _ = acme()
    admin = make_admin("operator")
    assert resolve_credentials(p.id, admin).api_key == KEY_A
    generation = lookup.database_generation()
    with pytest.raises(ValidationError) as refused:
        catalog.update_provider(p, {"shared_api_key": "has space"})
    assert any("\u0600" <= ch <= "\u06ff" for ch in str(refused.value.message))
    db.session.rollback()
    assert lookup.database_generation() == generation
    assert resolve_credentials(p.id, admin).api_key == KEY_A


def test_a_change_committed_in_this_process_is_seen_by_the_very_next_lookup(app):
    _, _, b_id = acme()
    assert get_active_model("acme", "chat").name == "model-a"
    activation.activate(b_id)
    assert get_active_model("acme", "chat").name == "model-b"


# --- another process, through Redis ---------------------------------------------------

CHILD = """
import sys
from sqlalchemy import event
from tests.conftest import make_config
from webapp import create_app
from webapp.errors import NoApiAccess
from webapp.extensions import cache, db
from webapp.queries import lookup
from webapp.queries.credentials import resolve_credentials
db_url, redis_url, prefix, max_age = sys.argv[1:5]
lookup.GENERATION_MAX_AGE = float(max_age)
app = create_app(make_config(db_url, redis_url, CACHE_KEY_PREFIX=prefix))
statements = []
with app.app_context():
    event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    cache.listening()
    app.extensions["cache_invalidations"].connected.wait(10)
    for line in sys.stdin:
        statements.clear()
        if line.strip() == "model":
            model = lookup.get_active_model("acme", "chat")
            answer = model.name if model else "-"
        else:
            try:
                answer = resolve_credentials("acme", None).hint
            except NoApiAccess:
                answer = "refused"
        print(answer, len(statements), flush=True)
        db.session.remove()
"""


class Child:
    """Another process with its own app (its own local layer) on the same database."""

    def __init__(self, db_url: str, redis_url: str, prefix: str, max_age: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, db_url, redis_url, prefix, str(max_age)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

    def ask(self, what: str) -> tuple[str, int]:
        self.proc.stdin.write(what + "\n")
        self.proc.stdin.flush()
        answer, statements = self.proc.stdout.readline().split()
        return answer, int(statements)

    def close(self) -> int:
        self.proc.stdin.close()
        return self.proc.wait(timeout=20)


@pytest.fixture
def redis_panel(app_factory):
    """``redis_panel(url)`` → (app, child factory) on that Redis, with acme's catalogue."""
    children: list[Child] = []

    def build(redis_url: str):
        support.require_redis(redis_url)
        prefix = f"mcp-local-{os.getpid()}-{time.monotonic_ns()}:"
        app = app_factory(CACHE_URL=redis_url, CACHE_KEY_PREFIX=prefix)
        db_url = app.config["SQLALCHEMY_DATABASE_URI"]

        def child(max_age: float) -> Child:
            children.append(Child(db_url, redis_url, prefix, max_age))
            return children[-1]

        return app, child

    yield build
    assert [child.close() for child in children] == [0] * len(children)


@pytest.mark.redis
def test_a_commit_is_pushed_to_another_process(redis_panel):
    app, start_child = redis_panel(SHARED_REDIS)
    with app.app_context():
        p, _, b_id = acme()
        p_id = p.id
        db.session.remove()
        # The child trusts its generation for an hour: only the push can tell it.
        child = start_child(3600.0)
        assert child.ask("model")[0] == "model-a"
        assert child.ask("model") == ("model-a", 0)  # warm: no statement
        assert child.ask("key")[0] == secrets.hint(KEY_A)  # the provider's row
        assert child.ask("key") == (secrets.hint(KEY_A), 0)

        activation.activate(b_id)
        assert eventually(lambda: child.ask("model")[0] == "model-b", 1.0)
        catalog.update_provider(p_id, {"shared_api_key": KEY_B})
        assert eventually(lambda: child.ask("key")[0] == secrets.hint(KEY_B), 1.0)
        catalog.update_provider(p_id, {"shared_api_enabled": False})
        assert eventually(lambda: child.ask("key")[0] == "refused", 1.0)
        assert child.ask("model")[0] == "model-b"  # the change dropped it: read again
        assert child.ask("model") == ("model-b", 0)  # warm again
        db.session.remove()


@pytest.mark.redis
@pytest.mark.slow
def test_no_stale_answer_through_a_redis_restart(redis_panel):
    """Redis goes away, a change commits meanwhile (its push is lost), Redis comes back
    empty: the other process's answers are right within a second all along, and warm
    (no statement) again once it listens anew."""
    server = PrivateRedis()
    server.start()
    try:
        app, start_child = redis_panel(server.url)
        with app.app_context():
            _, a_id, b_id = acme()
            db.session.remove()
            child = start_child(lookup.GENERATION_MAX_AGE)
            assert child.ask("model")[0] == "model-a"
            assert eventually(lambda: child.ask("model") == ("model-a", 0), 5.0)  # warm

            server.stop()
            activation.activate(b_id)  # committed; neither counter nor push reaches Redis
            db.session.remove()
            within = lookup.GENERATION_MAX_AGE + 0.5
            assert eventually(lambda: child.ask("model")[0] == "model-b", within)
            assert {child.ask("model")[0] for _ in range(5)} == {"model-b"}  # never back

            server.start()  # empty: no snapshot
            assert eventually(lambda: child.ask("model") == ("model-b", 0), 10.0)
            activation.activate(a_id)  # pushed again
            db.session.remove()
            assert eventually(lambda: child.ask("model")[0] == "model-a", 1.0)
            assert {child.ask("model")[0] for _ in range(5)} == {"model-a"}
    finally:
        server.stop()
