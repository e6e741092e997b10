"""Who sees which history: the security trail (sign-ins with their IP addresses and
mistyped usernames, admins and their roles, personal keys, tokens, key rotation) is
for admins who may manage admins; everyone else sees the model and provider history
only, with no way to ask for the rest (not in the list, not in the filter menu, not
by typing the action into the URL)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from webapp.extensions import db
from webapp.models import AuditEvent

START = datetime(2024, 7, 22, 8, 0, tzinfo=UTC)
SECRET_MARKS = {
    "auth.login": ("admin", {"ip": "203.0.113.77"}),
    "auth.login_failed": ("admin", {"username": "rootmistyped", "ip": "198.51.100.9"}),
    "admin.update": ("admin", {"role": "superadmin", "username": "promoted-one"}),
    "admin.create": ("admin", {"username": "newcomer-x", "role": "operator"}),
    "settings.update": ("adminprovidersettings", {"personal_api_key_hint": "…q7z9"}),
    "token.create": ("apitoken", {"prefix": "tokprefix42"}),
    "token.revoke": ("apitoken", {"prefix": "tokprefix43"}),
    "keys.rotate": ("keys", {"secrets": 3, "operation": "rotatemark"}),
}
VISIBLE = {
    "provider.update": ("provider", {"shared_api_key_hint": "…a1b2", "name": "OpenRouter"}),
    "model.activate": ("aimodel", {"active_capabilities": ["chat"], "model_id": "vendor/gpt-x"}),
    "model.create": ("aimodel", {"name": "fresh-model"}),
}


def add_events() -> dict[str, int]:
    ids = {}
    for i, (action, (target, after)) in enumerate({**SECRET_MARKS, **VISIBLE}.items()):
        event = AuditEvent(
            created_at=START + timedelta(minutes=i),
            actor_name="someone",
            action=action,
            target_type=target,
            target_repr=f"target-{action}",
            after=after,
        )
        db.session.add(event)
        db.session.flush()
        ids[action] = event.id
    db.session.commit()
    return ids


def shown(body: str) -> set[int]:
    return {int(i) for i in re.findall(r'id="event-(\d+)"', body)}


def offered(body: str, name: str) -> set[str]:
    select = re.search(rf'<select[^>]*name="{name}".*?</select>', body, re.S).group(0)
    return set(re.findall(r'<option[^>]*value="([^"]*)"', select)) - {""}


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_without_manage_admins_only_model_and_provider_history(login_as, role):
    client = login_as(role)
    ids = add_events()

    body = client.get("/history").get_data(as_text=True)

    assert shown(body) == {ids[a] for a in VISIBLE}
    for action, (_, after) in SECRET_MARKS.items():
        for key, value in after.items():
            if isinstance(value, str) and key != "role":  # roles show as their names
                assert value not in body, (action, value)
    assert "…a1b2" in body  # a provider's shared-key hint is a hint only
    assert all(a.startswith(("provider.", "model.")) for a in offered(body, "action"))
    assert "auth.login" not in offered(body, "action")
    assert offered(body, "target_type") == {"provider", "aimodel"}


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
@pytest.mark.parametrize(
    "query", ["action=auth.login", "action=auth.login_failed", "target_type=admin", "actor=some"]
)
def test_asking_for_the_security_trail_by_url_shows_none_of_it(login_as, role, query):
    client = login_as(role)
    ids = add_events()

    body = client.get(f"/history?{query}").get_data(as_text=True)

    assert not shown(body) & {ids[a] for a in SECRET_MARKS}
    assert "203.0.113.77" not in body and "rootmistyped" not in body


def test_superadmin_sees_the_whole_trail(login_as):
    client = login_as("superadmin")
    ids = add_events()

    body = client.get("/history?signins=1").get_data(as_text=True)

    assert set(ids.values()) <= shown(body)
    assert "203.0.113.77" in body and "rootmistyped" in body and "…q7z9" in body
    assert {"auth.login", "auth.login_failed", "admin.update", "keys.rotate"} <= offered(
        body, "action"
    )
    assert {"admin", "apitoken", "keys"} <= offered(body, "target_type")
    failed = client.get("/history?action=auth.login_failed").get_data(as_text=True)
    assert shown(failed) == {ids["auth.login_failed"]}


def test_the_count_counts_only_what_may_be_seen(login_as):
    client = login_as("viewer")
    add_events()
    body = client.get("/history").get_data(as_text=True)
    assert len(VISIBLE) == 3 and "۳ رویداد" in body
