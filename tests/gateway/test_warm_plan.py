"""A warm gateway call plans from this process's memory: no SQL statement before the
upstream call, the key still right after a change, and routing that goes on with the last
known live model and key while the database is unreachable."""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask import Flask

from tests import support
from tests.conftest import make_config
from tests.support import PERSONAL_KEY, SHARED_KEY, TRANSACTION_CONTROL
from webapp import create_app
from webapp.extensions import db
from webapp.metering import current_meter
from webapp.operations import activation, admins, routing
from webapp.operations.routing import Arm
from webapp.queries import lookup

HI = [{"role": "user", "content": "hi"}]
CHAT = "/v1/chat/completions"


@contextmanager
def statements_of_this_thread(engine):
    """The statements this thread sends (the harness's own and BEGIN/COMMIT left out)."""
    seen: list[str] = []
    me = threading.get_ident()

    def record(conn, cursor, statement, parameters, context, executemany):
        if threading.get_ident() != me:
            return
        if statement.split(" ", 1)[0].upper() in TRANSACTION_CONTROL:
            return
        if context is not None and context.execution_options.get("uncounted"):
            return
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_a_warm_gateway_call_runs_no_statement(
    client, role_token, catalogue, provider, fake_provider, give_personal_key, monkeypatch
):
    admin, token = role_token("operator")
    give_personal_key(admin, provider)
    headers = {"Authorization": f"Bearer {token}"}
    body = {"model": "openrouter", "messages": HI, "user": "end-user-7"}
    explicit = body | {"model": "openrouter/anthropic/claude-3.5-sonnet"}
    support.trust_for_an_hour(monkeypatch)
    for payload in (body, explicit):  # warms both plans (and records the token's use)
        assert client.post(CHAT, json=payload, headers=headers).status_code == 200

    with statements_of_this_thread(db.engine) as statements:
        live_answer = client.post(CHAT, json=body, headers=headers)
        explicit_answer = client.post(CHAT, json=explicit, headers=headers)

    assert statements == []
    assert live_answer.status_code == 200 and explicit_answer.status_code == 200
    assert live_answer.headers["X-Panel-Model"] == "openai/gpt-4o"
    assert explicit_answer.headers["X-Panel-Route"] == "explicit"
    seen = fake_provider.seen("/chat/completions")
    assert [s.authorization for s in seen] == [f"Bearer {PERSONAL_KEY}"] * 4
    assert seen[-1].json["model"] == "anthropic/claude-3.5-sonnet"


def test_a_warm_split_call_runs_no_statement(
    client, role_token, catalogue, provider, fake_provider, monkeypatch
):
    routing.set_routing(provider.id, "chat", [], [Arm(catalogue["claude"].id, 50)])
    _, token = role_token("operator")
    headers = {"Authorization": f"Bearer {token}"}
    support.trust_for_an_hour(monkeypatch)
    users = [f"user-{i}" for i in range(12)]
    first = {}
    for user in users:  # warms the split
        answer = client.post(
            CHAT, json={"model": "openrouter", "messages": HI, "user": user}, headers=headers
        )
        first[user] = answer.headers["X-Panel-Model"]
    assert set(first.values()) == {"openai/gpt-4o", "anthropic/claude-3.5-sonnet"}
    with statements_of_this_thread(db.engine) as statements:
        again = {
            user: client.post(
                CHAT, json={"model": "openrouter", "messages": HI, "user": user}, headers=headers
            ).headers["X-Panel-Model"]
            for user in users
        }
    assert again == first  # each user kept its arm
    assert statements == []


def test_a_changed_key_is_used_by_the_very_next_call(
    client, role_token, catalogue, provider, fake_provider, give_personal_key
):
    admin, token = role_token("operator")
    headers = {"Authorization": f"Bearer {token}"}
    body = {"model": "openrouter", "messages": HI}
    assert client.post(CHAT, json=body, headers=headers).status_code == 200
    give_personal_key(admin, provider)
    assert client.post(CHAT, json=body, headers=headers).status_code == 200
    give_personal_key(admin, provider, key=None)
    assert client.post(CHAT, json=body, headers=headers).status_code == 200
    seen = [s.authorization for s in fake_provider.seen("/chat/completions")]
    assert seen == [f"Bearer {SHARED_KEY}", f"Bearer {PERSONAL_KEY}", f"Bearer {SHARED_KEY}"]


@pytest.mark.redis
def openrouter_with_gpt(fake_provider):
    """openrouter on the loopback provider with its shared key, gpt-4o live for chat;
    returns the provider and a model factory."""
    make_provider = support.ProviderFactory()
    p = make_provider(
        "openrouter", base_url=fake_provider.url, shared_api_enabled=True, shared_api_key=SHARED_KEY
    )
    make_model = support.ModelFactory(make_provider)
    make_model(p, "gpt-4o", caps=["chat"], active=True, model_id="openai/gpt-4o")
    return p, make_model


def test_a_switch_reaches_another_apps_very_next_gateway_call(app_factory, fake_provider):
    """Two app instances on one database and one Redis (two workers): a switch through
    one is used by the other's very next call."""
    redis_url = os.environ.get("TEST_CACHE_URL") or "redis://127.0.0.1:6379/15"
    support.require_redis(redis_url)
    prefix = f"mcp-warm-{os.getpid()}-{time.monotonic_ns()}:"
    one = app_factory(CACHE_URL=redis_url, CACHE_KEY_PREFIX=prefix)
    other = app_factory(CACHE_URL=redis_url, CACHE_KEY_PREFIX=prefix)
    with one.app_context():
        p, make_model = openrouter_with_gpt(fake_provider)
        claude_id = make_model(p, "claude", caps=["chat"], model_id="anthropic/claude").id
        _, token = admins.create_token(support.AdminFactory()("service"), "warm")
        db.session.remove()
    headers = {"Authorization": f"Bearer {token}"}
    body = {"model": "openrouter", "messages": HI}
    calls = other.test_client()
    for _ in range(3):
        assert calls.post(CHAT, json=body, headers=headers).headers["X-Panel-Model"] == (
            "openai/gpt-4o"
        )
    with one.app_context():
        activation.activate(claude_id)
        db.session.remove()
    answer = calls.post(CHAT, json=body, headers=headers)
    assert answer.headers["X-Panel-Model"] == "anthropic/claude"


# --- the database away ----------------------------------------------------------------


def own_sqlite_app(tmp_path) -> tuple[Flask, str]:
    """An app on a SQLite file in a folder of its own (which the test can take away)."""
    folder = tmp_path / "db"
    folder.mkdir()
    url = f"sqlite:///{folder / 'panel.db'}"
    app = create_app(make_config(url, "", GATEWAY_TIMEOUT=5.0))
    with app.app_context():
        support.reset_schema(db, url)
    return app, str(folder)


def test_a_warm_gateway_keeps_routing_while_the_database_is_unreachable(tmp_path, fake_provider):
    app, folder = own_sqlite_app(tmp_path)
    with app.app_context():
        openrouter_with_gpt(fake_provider)
        _, token = admins.create_token(support.AdminFactory()("service"), "outage")
        db.session.remove()
    calls = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    body = {"model": "openrouter", "messages": HI}
    assert calls.post(CHAT, json=body, headers=headers).status_code == 200  # warm
    try:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()  # no pooled connection left to the file...
        os.rename(folder, folder + "-away")  # ...and none can be opened again
        time.sleep(lookup.GENERATION_MAX_AGE + 0.1)  # the generation is read again, and fails
        for _ in range(3):
            answer = calls.post(CHAT, json=body, headers=headers)
            assert answer.status_code == 200, answer.get_data(as_text=True)
            assert answer.headers["X-Panel-Model"] == "openai/gpt-4o"
        # A name it never planned cannot be answered without the database: 503, not 500.
        unknown = calls.post(CHAT, json=body | {"model": "other"}, headers=headers)
        assert unknown.status_code == 503, unknown.get_data(as_text=True)
        assert unknown.json["error"]["code"] == "service_unavailable"
    finally:
        if os.path.exists(folder + "-away"):
            os.rename(folder + "-away", folder)
        with app.app_context():
            current_meter().close()  # the rows it could not write, written now
            db.session.remove()
            db.engine.dispose()
    seen = fake_provider.seen("/chat/completions")
    assert len(seen) == 4
    assert {s.authorization for s in seen} == {f"Bearer {SHARED_KEY}"}
    assert {s.json["model"] for s in seen} == {"openai/gpt-4o"}
