"""``PATCH {"is_active": …}`` alone goes straight to the activation: the same answer,
audit and refusals as before, in a fixed, smaller number of statements."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import select

from tests import support
from tests.support import active_pairs, envelope_error, envelope_ok
from webapp.extensions import db as _db
from webapp.models import AuditEvent, Provider

# Transaction control aside: the provider's lock, the groups' rows with their models, two
# UPDATEs, the audit, the model's stamp, the answer's snapshot, the cache generation.
# The token is cached (a switch does not move the tokens' generation).
MAX_STATEMENTS = 8


def test_patch_is_active_switches_both_groups_and_answers_the_model(api, group):
    gpt, llama = group["gpt"].id, group["llama"].id
    body = envelope_ok(
        api("PATCH", f"/ai-models/{llama}/", json={"is_active": True}),
        message="مدل به‌روزرسانی شد. 1 مدل دیگر غیرفعال شد",
    )
    assert body["data"]["id"] == llama
    assert body["data"]["is_active"] is True
    assert body["data"]["active_capabilities"] == ["chat", "code"]
    assert {(llama, "chat"), (llama, "code")} <= active_pairs()
    assert not {p for p in active_pairs() if p[0] == gpt}
    actions = _db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("model.%")).order_by(AuditEvent.id)
    ).all()
    assert actions[-2:] == ["model.activate", "model.deactivate"]

    again = api("PATCH", f"/ai-models/{llama}/", json={"is_active": True})
    envelope_ok(again, message="مدل به‌روزرسانی شد")  # already live: nobody else lost


def test_patch_is_active_false_leaves_the_groups_empty(api, group):
    gpt = group["gpt"].id
    body = envelope_ok(api("PATCH", f"/ai-models/{gpt}/", json={"is_active": False}))
    assert body["data"]["is_active"] is False
    assert active_pairs() == set()


def test_bad_patches_are_refused_in_persian_and_change_nothing(api, group):
    before = active_pairs()
    envelope_error(api("PATCH", "/ai-models/987654/", json={"is_active": True}), 404)
    refused = envelope_error(
        api("PATCH", f"/ai-models/{group['claude'].id}/", json={"is_active": "maybe"}), 400
    )
    assert "is_active" in refused["errors"]
    assert any("\u0600" <= ch <= "\u06ff" for ch in refused["metaData"]["message"])
    assert active_pairs() == before


def test_patch_is_active_in_a_fixed_number_of_statements(
    api, group, count_queries, make_model, monkeypatch
):
    claude, llama, provider = group["claude"].id, group["llama"].id, group["provider"].id
    api("PATCH", f"/ai-models/{claude}/", json={"is_active": True})  # warm
    support.trust_for_an_hour(monkeypatch)  # no generation read between the two calls
    _db.session.remove()
    checkouts = []

    def checked_out(*args) -> None:
        checkouts.append(1)

    sa.event.listen(_db.engine, "checkout", checked_out)
    try:
        with count_queries() as log:
            envelope_ok(api("PATCH", f"/ai-models/{llama}/", json={"is_active": True}))
    finally:
        sa.event.remove(_db.engine, "checkout", checked_out)
    assert len(log) <= MAX_STATEMENTS, "\n".join(s[:90] for s in log)
    assert log[-1].startswith("INSERT INTO cache_generation")  # the answer was read before it
    assert len(checkouts) == 1  # one connection, one transaction
    for i in range(12):  # more models in the group: the same count
        make_model(_db.session.get(Provider, provider), f"extra-{i}", caps=["chat"])
    _db.session.remove()
    with count_queries() as grown:
        envelope_ok(api("PATCH", f"/ai-models/{claude}/", json={"is_active": True}))
    assert len(grown) == len(log)
