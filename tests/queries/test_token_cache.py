"""Cached tokens answer to their own generation: a model switch (the commonest write)
leaves them cached, while a change to a token or an admin, here or in another process
whose push was lost, still reaches every worker within a second."""

from __future__ import annotations

import pytest

from webapp.cache import local_layer, parse_push, push_message
from webapp.extensions import cache, db
from webapp.models import ApiToken
from webapp.operations import activation, admins
from webapp.queries import lookup

ACTIVE = "/api/v1/ai-models/active_model/?provider=acme&capability=chat"


@pytest.fixture
def group(make_provider, make_model):
    provider = make_provider("acme")
    first = make_model(provider, "first", caps=["chat"], active=True)
    second = make_model(provider, "second", caps=["chat"])
    return first.id, second.id


def age(seconds: float) -> None:
    """As if this process had read the generations ``seconds`` earlier."""
    layer = local_layer()
    layer.read_at -= seconds
    layer.trusted_until -= seconds


def test_a_switch_moves_the_generation_but_not_the_tokens_one(app, client, group, token_for):
    headers = {"Authorization": f"Bearer {token_for('viewer')}"}
    assert client.get(ACTIVE, headers=headers).json["data"]["name"] == "first"
    tokens_before = lookup.token_generation()
    generation_before = lookup.database_generation()
    activation.activate(group[1])
    db.session.remove()
    age(lookup.GENERATION_MAX_AGE)
    assert lookup.database_generation() > generation_before
    assert lookup.token_generation() == tokens_before


def test_after_a_switch_the_token_is_not_read_again(app, client, group, token_for, count_queries):
    headers = {"Authorization": f"Bearer {token_for('viewer')}"}
    assert client.get(ACTIVE, headers=headers).status_code == 200
    activation.activate(group[1])
    db.session.remove()
    age(lookup.GENERATION_MAX_AGE)
    with count_queries() as log:
        answer = client.get(ACTIVE, headers=headers)
    assert answer.json["data"]["name"] == "second"  # the switch is seen ...
    assert [s for s in log if "api_token" in s or "FROM admin" in s] == []  # ... not the token


def test_a_revocation_whose_push_was_lost_is_refused_within_a_second(
    app, app_factory, client, group, token_for, monkeypatch
):
    """Another process revokes the token and neither its push nor anything else reaches
    this one: the tokens' generation, read with the database generation, does."""
    headers = {"Authorization": f"Bearer {token_for('viewer')}"}
    assert client.get(ACTIVE, headers=headers).status_code == 200
    token_id = db.session.scalar(db.select(ApiToken.id))
    db.session.remove()
    monkeypatch.setattr(type(cache), "publish_generation", lambda self, value, tokens=False: None)
    other = app_factory()
    with other.app_context():
        admins.revoke_token(token_id)
        activation.activate(group[1])  # a later switch must not hide the revocation
        db.session.remove()
    assert client.get(ACTIVE, headers=headers).status_code == 200  # trusted for now
    age(lookup.GENERATION_MAX_AGE)
    assert client.get(ACTIVE, headers=headers).status_code == 401


def test_a_revocation_is_refused_at_once_in_this_process(app, client, group, token_for):
    headers = {"Authorization": f"Bearer {token_for('viewer')}"}
    assert client.get(ACTIVE, headers=headers).status_code == 200
    admins.revoke_token(db.session.scalar(db.select(ApiToken.id)))
    db.session.remove()
    assert client.get(ACTIVE, headers=headers).status_code == 401


def test_a_push_says_whether_tokens_changed():
    assert parse_push(push_message(41, True).encode()) == (41, True)
    assert parse_push(push_message(42, False)) == (42, False)
    assert parse_push(b"43") == (43, False)  # what a worker of the previous release sends
    for bad in ("", "x", "7 tokens", "7 t t"):
        with pytest.raises(ValueError):
            parse_push(bad)


def test_a_pushed_token_change_moves_the_tokens_generation_only_forward(app):
    layer = local_layer()
    start = layer.generation
    layer.pushed_generation(start + 2, tokens=True)
    layer.pushed_generation(start + 1, tokens=True)  # an older message, late
    layer.pushed_generation(start + 3)
    assert (layer.generation, layer.token_generation) == (start + 3, start + 2)
