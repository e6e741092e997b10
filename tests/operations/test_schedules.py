"""Scheduled switches: applied through the normal activation, once, or failed with a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from webapp.dates import local_instant_utc
from webapp.errors import Conflict, ValidationError
from webapp.models import AIModel, AuditEvent, Schedule, UsageCall
from webapp.operations import catalog, schedules
from webapp.queries.lookup import get_active_model

PAST = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
def group(make_provider, make_model):
    provider = make_provider("openrouter")
    live = make_model(provider, "gpt-4o", caps=["chat"], active=True)
    other = make_model(provider, "claude", caps=["chat", "code"])
    return provider, live, other


def live_name(slug="openrouter", capability="chat"):
    active = get_active_model(slug, capability)
    return active.name if active else None


def test_a_due_schedule_switches_like_a_manual_activation(group, make_admin, db):
    provider, _, other = group
    author = make_admin("operator", username="sara")
    made = schedules.create(provider.id, "chat", other.id, PAST, actor=author)

    applied = schedules.apply_due()

    assert [(a.id, a.status) for a in applied] == [(made.id, "done")]
    assert live_name() == "claude"
    row = db.session.get(Schedule, made.id)
    assert row.status == "done" and row.applied_at is not None
    assert row.result == "مدل فعال شد 1 مدل دیگر غیرفعال شد"
    names = db.session.scalars(
        select(AuditEvent.actor_name).where(AuditEvent.action == "model.activate")
    ).all()
    assert f"sara (schedule {made.id})" in names
    assert schedules.apply_due() == []  # once


def test_a_future_schedule_waits(group):
    provider, _, other = group
    schedules.create(provider.id, "chat", other.id, datetime.now(UTC) + timedelta(hours=1))
    assert schedules.apply_due() == []
    assert live_name() == "gpt-4o"


def test_a_schedule_to_none_empties_the_group(group, db):
    provider, _, _ = group
    made = schedules.create(provider.id, "chat", None, PAST)
    applied = schedules.apply_due()
    assert applied[0].status == "done"
    assert live_name() is None
    assert db.session.get(Schedule, made.id).model_id is None


def test_a_deleted_model_fails_the_schedule_and_changes_nothing(group, db):
    provider, _, other = group
    made = schedules.create(provider.id, "chat", other.id, PAST)
    catalog.delete_model(other.id)

    applied = schedules.apply_due()

    assert applied[0].status == "failed"
    assert "حذف شده" in applied[0].result
    assert live_name() == "gpt-4o"  # nothing emptied
    assert db.session.get(Schedule, made.id).status == "failed"


def test_a_disabled_provider_fails_the_schedule(group, db):
    provider, _, other = group
    made = schedules.create(provider.id, "chat", other.id, PAST)
    catalog.change_provider(provider.id, {"is_enabled": False})
    applied = schedules.apply_due()
    assert applied[0].status == "failed"
    assert "غیرفعال" in db.session.get(Schedule, made.id).result


def test_a_lost_capability_fails_the_schedule(group, db):
    provider, _, other = group
    made = schedules.create(provider.id, "code", other.id, PAST)
    catalog.update_model(other.id, {"capabilities": ["chat"]})
    applied = schedules.apply_due()
    assert applied[0].status == "failed"
    assert "code" in db.session.get(Schedule, made.id).result


def test_bad_schedules_are_refused_and_nothing_is_written(group, db, make_model):
    provider, _, other = group
    foreign = make_model(None, "elsewhere")
    with pytest.raises(ValidationError):
        schedules.create(provider.id, "chat", other.id, datetime(2030, 1, 1))  # naive
    with pytest.raises(ValidationError):
        schedules.create(provider.id, "image", other.id, PAST)  # capability missing
    with pytest.raises(ValidationError):
        schedules.create(provider.id, "chat", foreign.id, PAST)  # another provider
    assert db.session.scalar(select(func.count()).select_from(Schedule)) == 0


def test_cancel_only_while_pending(group, db):
    provider, _, other = group
    made = schedules.create(provider.id, "chat", other.id, PAST)
    schedules.cancel(made.id)
    assert schedules.apply_due() == []
    assert live_name() == "gpt-4o"
    with pytest.raises(Conflict):
        schedules.cancel(made.id)


def test_usage_based_schedule_fires_when_the_quota_is_reached(group, db):
    provider, live, other = group
    made = schedules.create(provider.id, "chat", other.id, PAST, after_calls=3)
    assert schedules.apply_due() == []
    for _ in range(3):
        db.session.add(
            UsageCall(
                origin="gateway",
                provider="openrouter",
                capability="chat",
                model=live.model_id,
                outcome="ok",
                latency_ms=5,
            )
        )
    db.session.commit()
    applied = schedules.apply_due()
    assert [a.id for a in applied] == [made.id]
    assert live_name() == "claude"


def test_a_jalali_date_and_tehran_time_give_the_utc_instant():
    # 1405/01/01 is 21 March 2026; Iran keeps +03:30 all year since 2022.
    assert local_instant_utc("1405/01/01", "09:00") == datetime(2026, 3, 21, 5, 30, tzinfo=UTC)
    assert local_instant_utc("۱۴۰۵/۰۹/۰۹", "۱۲:۰۰") == datetime(2026, 11, 30, 8, 30, tzinfo=UTC)
    # Before 2022 Tehran had summer time: 1400/04/01 (22 June 2021) was +04:30.
    assert local_instant_utc("1400/04/01", "12:00") == datetime(2021, 6, 22, 7, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        local_instant_utc("1405/13/01", "09:00")
    with pytest.raises(ValueError):
        local_instant_utc("1405/01/01", "25:00")


def test_model_delete_leaves_the_schedule_pointing_nowhere(group, db):
    provider, _, other = group
    made = schedules.create(provider.id, "chat", other.id, PAST)
    catalog.delete_model(other.id)
    db.session.expire_all()
    row = db.session.get(Schedule, made.id)
    assert row.model_id is None and row.clears is False
    assert db.session.get(AIModel, other.id) is None


def test_the_history_names_the_schedule_and_its_author(group, make_admin, login_as):
    provider, _, other = group
    author = make_admin("operator", username="sara")
    made = schedules.create(provider.id, "chat", other.id, PAST, actor=author).id
    schedules.apply_due()
    # The switch itself is model history, which a viewer reads; it names both.
    page = login_as("viewer").get("/history").get_data(as_text=True)
    number = str(made).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert f"sara (تغییر زمان‌بندی‌شدهٔ شمارهٔ {number})" in page
    # The schedule's own events are in the full trail.
    page = login_as("superadmin").get("/history").get_data(as_text=True)
    assert "اجرای زمان‌بندی تغییر" in page
