"""DESIGN.md §1: one active model per provider + capability."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp.errors import NotFound, ValidationError
from webapp.models import AIModel, AuditEvent, ModelCapability
from webapp.operations import activation, catalog
from webapp.queries.lookup import get_active_model


def active_caps(model) -> list[str]:
    from webapp.extensions import db

    db.session.expire_all()
    return db.session.get(AIModel, model.id).active_capabilities


# --- the seed's three scenarios -------------------------------------------------------


def test_seed_test1_activating_claude_deactivates_gpt4o(make_provider, make_model, db):
    openrouter = make_provider("openrouter", name="OpenRouter")
    model1 = make_model(openrouter, "GPT-4o", caps=["chat"], active=True)
    model2 = make_model(openrouter, "Claude-3.5", caps=["chat"])

    result = activation.activate(model2)

    db.session.expire_all()
    assert db.session.get(AIModel, model1.id).is_active is False
    assert db.session.get(AIModel, model2.id).is_active is True
    assert result.deactivated_count == 1
    assert [(m.id, cap) for m, cap in result.deactivated] == [(model1.id, "chat")]


def test_seed_test2_auto_selection_returns_the_active_one(make_provider, make_model):
    openrouter = make_provider("openrouter")
    make_model(openrouter, "GPT-4o", caps=["chat"], active=True)
    claude = make_model(openrouter, "Claude-3.5", caps=["chat"])
    activation.activate(claude)

    active = get_active_model("openrouter", "chat")
    assert active is not None and active.name == "Claude-3.5"


# Scenario 3 (key priority) lives in test_credentials.py.


# --- §1 rules one by one ------------------------------------------------------------


def test_multi_capability_model_takes_every_group(make_provider, make_model):
    p = make_provider()
    chat_only = make_model(p, caps=["chat"], active=True)
    code_only = make_model(p, caps=["code"], active=True)
    both = make_model(p, caps=["chat", "code"])

    result = activation.activate(both)

    assert result.activated == ("chat", "code")
    assert result.deactivated_count == 2
    assert active_caps(chat_only) == [] and active_caps(code_only) == []
    assert {m.id for m in result.left_inactive} == {chat_only.id, code_only.id}


def test_activation_is_per_capability(make_provider, make_model):
    p = make_provider()
    gpt = make_model(p, caps=["chat", "code"], active=True)
    claude = make_model(p, caps=["chat", "code"])

    result = activation.activate(claude, ["chat"])

    assert active_caps(gpt) == ["code"]
    assert active_caps(claude) == ["chat"]
    assert result.deactivated_count == 1
    assert result.left_inactive == ()  # gpt still holds code


def test_deactivated_count_counts_distinct_models_not_pairs(make_provider, make_model):
    p = make_provider()
    a = make_model(p, caps=["chat", "code", "vision"], active=True)
    b = make_model(p, caps=["image"], active=True)
    c = make_model(p, caps=["chat", "code", "vision", "image"])

    result = activation.activate(c)

    assert len(result.deactivated) == 4  # three pairs of a, one of b
    assert result.deactivated_count == 2
    assert {m.id for m in result.left_inactive} == {a.id, b.id}


def test_other_providers_are_untouched(make_provider, make_model):
    p1, p2 = make_provider(), make_provider()
    other = make_model(p2, caps=["chat"], active=True)
    result = activation.activate(make_model(p1, caps=["chat"]))
    assert result.deactivated_count == 0
    assert active_caps(other) == ["chat"]


def test_activating_twice_changes_nothing_and_writes_no_audit(make_provider, make_model, db):
    p = make_provider()
    m = make_model(p, caps=["chat"], active=True)
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    result = activation.activate(m)
    assert not result.changed and result.deactivated == ()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_deactivate_leaves_groups_empty(make_provider, make_model):
    p = make_provider("acme")
    m = make_model(p, caps=["chat", "code"], active=True)

    result = activation.deactivate(m, ["chat"])

    assert result.deactivated == ("chat",)
    assert result.empty_groups == ((p.id, "chat"),)
    assert get_active_model("acme", "chat") is None
    assert get_active_model("acme", "code").id == m.id
    assert activation.deactivate(m).deactivated == ("code",)
    assert active_caps(m) == []


def test_clear_group_is_the_none_choice(make_provider, make_model):
    p = make_provider("acme")
    m = make_model(p, caps=["chat"], active=True)
    assert activation.clear_group(p.id, "chat").deactivated == ("chat",)
    assert activation.clear_group(p.id, "chat") is None
    assert active_caps(m) == []


def test_dropping_a_capability_drops_its_activation(make_provider, make_model):
    p = make_provider("acme")
    m = make_model(p, caps=["chat", "code"], active=True)

    catalog.update_model(m, {"capabilities": ["code", "vision"]})

    assert get_active_model("acme", "chat") is None
    assert active_caps(m) == ["code"]  # vision added, not activated


def test_deleting_a_model_drops_its_activations(make_provider, make_model, db):
    p = make_provider("acme")
    m = make_model(p, caps=["chat"], active=True)
    assert get_active_model("acme", "chat") is not None
    catalog.delete_model(m)
    assert get_active_model("acme", "chat") is None
    assert db.session.scalar(select(func.count()).select_from(ModelCapability)) == 0


def test_disabled_provider_serves_no_active_model(make_provider, make_model):
    p = make_provider("acme")
    make_model(p, caps=["chat"], active=True)
    assert get_active_model("acme", "chat") is not None
    catalog.update_provider(p, {"is_enabled": False})
    assert get_active_model("acme", "chat") is None
    catalog.update_provider(p, {"is_enabled": True})
    assert get_active_model("acme", "chat") is not None


@pytest.mark.parametrize("caps", [None, ["chat"], ["code"], ["chat", "code"]])
def test_preview_equals_what_activation_does(make_provider, make_model, caps):
    p = make_provider()
    a = make_model(p, caps=["chat"], active=True)
    b = make_model(p, caps=["code"], active=True)
    target = make_model(p, caps=["chat", "code"])

    pv = activation.preview(target, caps)
    result = activation.activate(target, caps)

    predicted = {(c.model.id, cap) for c in pv.conflicts for cap in c.capabilities}
    assert predicted == {(m.id, cap) for m, cap in result.deactivated}
    assert pv.deactivated_count == result.deactivated_count
    names = {a.id: a.display_name, b.id: b.display_name}
    for conflict in pv.conflicts:
        assert names[conflict.model.id] in conflict.message


def test_preview_message_is_the_seed_text_in_persian(make_provider, make_model):
    p = make_provider()
    make_model(p, "gpt-4o", caps=["chat"], active=True, display_name="GPT-4o")
    target = make_model(p, caps=["chat"])
    from flask_babel import force_locale

    with force_locale("fa"):
        assert activation.preview(target).messages == [
            "فعال کردن این مدل باعث غیرفعال شدن مدل GPT-4o می‌شود"
        ]


def test_activation_audits_every_deactivation(make_provider, make_model, db):
    p = make_provider()
    a = make_model(p, caps=["chat"], active=True)
    b = make_model(p, caps=["code"], active=True)
    target = make_model(p, caps=["chat", "code"])

    activation.activate(target, actor="alice")

    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action.in_(["model.activate", "model.deactivate"]))
        .order_by(AuditEvent.id.desc())
        .limit(3)
    ).all()
    by_target = {e.target_id: e for e in events}
    assert set(by_target) == {target.id, a.id, b.id}
    assert len({e.batch for e in events}) == 1
    assert by_target[target.id].after["active_capabilities"] == ["chat", "code"]
    assert by_target[a.id].before == {"active_capabilities": ["chat"]}
    assert by_target[a.id].after["caused_by"]["model_id"] == target.id
    assert all(e.actor_name == "alice" for e in events)


# --- bad input changes nothing ----------------------------------------------------------


def snapshot(db):
    rows = db.session.execute(
        select(
            ModelCapability.model_id, ModelCapability.capability, ModelCapability.is_active
        ).order_by(ModelCapability.model_id, ModelCapability.capability)
    ).all()
    models = db.session.execute(select(AIModel.id, AIModel.name).order_by(AIModel.id)).all()
    audits = db.session.scalar(select(func.count()).select_from(AuditEvent))
    return rows, models, audits


def test_unknown_capability_is_refused(make_provider, make_model, db):
    p = make_provider()
    m = make_model(p, caps=["chat"])
    before = snapshot(db)
    with pytest.raises(ValidationError):
        activation.activate(m, ["telepathy"])
    with pytest.raises(ValidationError):
        catalog.create_model(
            p,
            {
                "name": "x",
                "model_id": "x",
                "display_name": "X",
                "capabilities": ["chat", "telepathy"],
            },
        )
    with pytest.raises(ValidationError):
        catalog.update_model(m, {"capabilities": ["dance"]})
    assert snapshot(db) == before


def test_capability_the_model_lacks_is_refused(make_provider, make_model, db):
    m = make_model(make_provider(), caps=["chat"])
    before = snapshot(db)
    with pytest.raises(ValidationError, match="image"):
        activation.activate(m, ["image"])
    assert snapshot(db) == before


def test_empty_capability_list_is_refused(make_provider, make_model, db):
    p = make_provider()
    m = make_model(p, caps=["chat"], active=True)
    before = snapshot(db)
    with pytest.raises(ValidationError) as err:
        catalog.create_model(
            p, {"name": "y", "model_id": "y", "display_name": "Y", "capabilities": []}
        )
    assert err.value.field == "capabilities"
    with pytest.raises(ValidationError):
        catalog.update_model(m, {"capabilities": []})
    assert snapshot(db) == before


def test_duplicate_model_name_within_provider_is_refused(make_provider, make_model, db):
    p = make_provider()
    make_model(p, "gpt-4o", caps=["chat"])
    before = snapshot(db)
    with pytest.raises(ValidationError) as err:
        catalog.create_model(
            p,
            {
                "name": "gpt-4o",
                "model_id": "other",
                "display_name": "Dup",
                "capabilities": ["chat"],
            },
        )
    assert err.value.field == "name"
    assert snapshot(db) == before
    # The same name under another provider is fine.
    catalog.create_model(
        make_provider(),
        {
            "name": "gpt-4o",
            "model_id": "gpt-4o",
            "display_name": "GPT-4o",
            "capabilities": ["chat"],
        },
    )


def test_unknown_provider_and_model_are_refused(make_provider, db):
    make_provider()
    before = snapshot(db)
    with pytest.raises(NotFound):
        catalog.create_model(
            "no-such-provider",
            {"name": "z", "model_id": "z", "display_name": "Z", "capabilities": ["chat"]},
        )
    with pytest.raises(NotFound):
        activation.activate(987654)
    assert snapshot(db) == before


def test_create_with_is_active_activates_and_reports(make_provider, make_model):
    p = make_provider("acme")
    old = make_model(p, caps=["chat"], active=True)
    model, result = catalog.create_model(
        p,
        {
            "name": "new",
            "model_id": "n",
            "display_name": "New",
            "capabilities": ["chat"],
            "is_active": True,
        },
    )
    assert result.deactivated_count == 1
    assert get_active_model("acme", "chat").id == model.id
    assert active_caps(old) == []
