"""What one confirmed radio switch costs the database: a fixed number of statements
(the lock, the group's rows, the models, the writes, the answer's groups), whatever
the catalogue holds; and the checks the operation now makes under its lock."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests import support
from webapp.errors import NotFound, ValidationError
from webapp.extensions import db as _db
from webapp.models import AuditEvent
from webapp.operations import activation

MAX_STATEMENTS = 12  # the whole request, transaction control aside
# The signed-in admin, then the switch up to its last write (the cache generation).
MAX_SWITCH = 8
# The group with its provider (one statement) and its policies; the page's live counts
# (2 more) only when the switch emptied or filled a group, which a replacement does not.
MAX_ANSWER = 2


active_pairs = support.active_pairs


@pytest.fixture
def catalogue(two_providers):
    return two_providers


def confirm(client, provider_id: int, capability: str, model_id: int, csrf: str = ""):
    data = {
        "provider": str(provider_id),
        "capability": capability,
        "model": str(model_id),
        "confirm": "1",
    }
    return support.choose_on_models_page(client, data, csrf)


def grow(make_provider, make_model, providers: int, models: int) -> None:
    for _ in range(providers):
        provider = make_provider()
        for i in range(models):
            make_model(provider, caps=["chat", "code"][: 1 + i % 2], active=i == 0)


def test_confirmed_switch_in_at_most_eleven_statements(
    login_as, catalogue, count_queries, make_provider, make_model
):
    p, gpt, claude = (catalogue[k].id for k in ("p", "gpt", "claude"))
    client = login_as("operator")
    csrf = support.csrf_token(client, "/models")
    confirm(client, p, "code", claude, csrf)  # warm: compiled statements, the session
    counts = []
    for switch_to in (claude, gpt):
        _db.session.remove()  # the request starts from nothing, as in production
        with count_queries() as log:
            response = confirm(client, p, "chat", switch_to, csrf)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        counts.append(len(log))
        # The switch itself: up to its last write (the cache generation), in one transaction.
        last_write = max(i for i, s in enumerate(log) if s.startswith(("INSERT", "UPDATE")))
        assert last_write + 1 <= MAX_SWITCH, "\n".join(s[:90] for s in log)
    assert (gpt, "chat") in active_pairs() and (claude, "chat") not in active_pairs()
    # The answer then loads the group, the page's live counts and the group's policies
    # for the toast and the out-of-band updates: a fixed number, whatever the catalogue.
    assert max(counts) <= MAX_SWITCH + MAX_ANSWER <= MAX_STATEMENTS, "\n".join(s[:90] for s in log)

    grow(make_provider, make_model, 3, 8)  # a bigger catalogue: the same count
    _db.session.remove()
    with count_queries() as log:
        assert confirm(client, p, "chat", claude, csrf).status_code == 200
    assert len(log) == counts[0], "\n".join(log)


def test_switch_audits_both_models_in_one_batch_in_order(login_as, catalogue):
    p, gpt, claude = catalogue["p"], catalogue["gpt"], catalogue["claude"]
    client = login_as("operator")
    assert confirm(client, p.id, "chat", claude.id).status_code == 200
    _db.session.rollback()
    events = _db.session.scalars(
        select(AuditEvent).where(AuditEvent.action.like("model.%")).order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.target_id) for e in events[-2:]] == [
        ("model.activate", claude.id),
        ("model.deactivate", gpt.id),
    ]
    activated, deactivated = events[-2:]
    assert activated.batch == deactivated.batch != ""
    assert activated.actor_name == client.admin.username
    assert activated.actor_id == client.admin.id
    assert activated.before == {"active_capabilities": []}
    assert activated.after["active_capabilities"] == ["chat"]
    assert deactivated.before == {"active_capabilities": ["chat"]}
    assert deactivated.after["active_capabilities"] == []
    assert deactivated.after["caused_by"] == {"model_id": claude.id, "model": "Claude 3.5 Sonnet"}


def test_model_of_another_provider_is_refused_in_persian_and_changes_nothing(login_as, catalogue):
    p, sdxl = catalogue["p"], catalogue["sdxl"]
    before = active_pairs()
    response = confirm(login_as("operator"), p.id, "chat", sdxl.id)
    assert response.status_code == 400
    assert "این مدل متعلق به این ارائه‌دهنده نیست" in response.get_data(as_text=True)
    assert active_pairs() == before


def test_unknown_model_or_provider_is_404_and_changes_nothing(login_as, catalogue):
    client = login_as("operator")
    before = active_pairs()
    unknown_model = confirm(client, catalogue["p"].id, "chat", 987654)
    assert unknown_model.status_code == 404
    assert "مدل" in unknown_model.get_data(as_text=True)
    unknown_provider = confirm(client, 987654, "chat", catalogue["gpt"].id)
    assert unknown_provider.status_code == 404
    assert "پیدا نشد" in unknown_provider.get_data(as_text=True)
    assert active_pairs() == before


def test_operation_checks_capability_and_provider_under_its_lock(app, catalogue):
    p, claude, sdxl = catalogue["p"], catalogue["claude"], catalogue["sdxl"]
    before = active_pairs()
    with pytest.raises(ValidationError) as lacking:
        activation.activate(sdxl.id, ["chat"])
    assert lacking.value.field == "capabilities"
    with pytest.raises(ValidationError):
        activation.activate(claude.id, ["chat"], provider_id=catalogue["other"].id)
    with pytest.raises(ValidationError):
        activation.activate(claude.id, ["no-such-capability"])
    with pytest.raises(NotFound):
        activation.activate(987654, ["chat"])
    assert active_pairs() == before
    result = activation.activate(claude.id, None, provider_id=p.id)  # all of its own
    assert result.activated == ("chat", "code")
    assert result.deactivated_count == 1
    assert {(claude.id, "chat"), (claude.id, "code")} <= active_pairs()
