"""The schedules page: pending and past switches (who, when in Jalali, status, the Persian
reason of a failure), «لغو» with a confirmation step, roles, the navbar entry, and the
history naming the schedule's author."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.html_tree import parse
from webapp.models import AuditEvent, Schedule, utcnow
from webapp.operations import catalog, schedules

FUTURE = datetime(2030, 3, 21, 5, 30, tzinfo=UTC)  # ۱۴۰۹/۰۱/۰۱ ۰۹:۰۰ in Tehran


def reload(db, schedule_id: int) -> Schedule:
    db.session.rollback()
    return db.session.get(Schedule, schedule_id)


def test_the_page_lists_pending_and_past_switches(login_as, group, make_admin, db):
    author = make_admin("operator", username="maryam")
    provider = group["provider"]
    pending = schedules.create(provider.id, "chat", group["claude"].id, FUTURE, actor=author)
    doomed = schedules.create(
        provider.id, "chat", group["llama"].id, utcnow() + timedelta(seconds=1), actor=author
    )
    catalog.delete_model(group["llama"].id, actor="test")
    schedules.apply_due(utcnow() + timedelta(seconds=5))

    page = login_as("viewer").get("/schedules")

    assert page.status_code == 200
    tree = parse(page.get_data(as_text=True))
    first = tree.by_id(f"schedule-{pending.id}")
    assert first.get("data-status") == "pending"
    assert "۱۴۰۹/۰۱/۰۱ ۰۹:۰۰" in first.text
    assert "Claude 3.5" in first.text and "maryam" in first.text
    assert "در انتظار" in first.text
    failed = tree.by_id(f"schedule-{doomed.id}")
    assert failed.get("data-status") == "failed"
    assert "ناموفق" in failed.text
    assert "حذف شده" in failed.text  # the Persian reason: the model was deleted
    # A viewer sees them but gets no «لغو».
    assert "لغو" not in first.text


def test_filters_keep_to_one_status(login_as, group, db):
    provider = group["provider"]
    kept = schedules.create(provider.id, "chat", group["claude"].id, FUTURE)
    gone = schedules.create(provider.id, "chat", group["llama"].id, FUTURE)
    schedules.cancel(gone.id)

    tree = parse(login_as("viewer").get("/schedules?status=cancelled").get_data(as_text=True))

    assert tree.by_id(f"schedule-{gone.id}") is not None
    assert tree.by_id(f"schedule-{kept.id}") is None
    # Unknown filter values are dropped, never an error.
    assert login_as("viewer").get("/schedules?status=zzz&capability=x&page=-4").status_code == 200


def test_an_operator_cancels_a_pending_switch_after_confirming(login_as, post, group, db):
    row = schedules.create(group["provider"].id, "chat", group["claude"].id, FUTURE)
    client = login_as("operator")
    listing = parse(client.get("/schedules").get_data(as_text=True))
    link = listing.by_id(f"schedule-{row.id}").find("a")
    assert link.text.startswith("لغو")

    confirm = client.get(link.get("href"))

    assert confirm.status_code == 200
    assert "لغو شود؟" in confirm.get_data(as_text=True)
    assert reload(db, row.id).status == "pending"  # the step itself changes nothing

    done = post(client, f"/schedules/{row.id}/cancel?next=/schedules")

    assert done.status_code == 302 and done.headers["Location"].endswith("/schedules")
    assert reload(db, row.id).status == "cancelled"
    after = client.get("/schedules").get_data(as_text=True)
    assert "تغییر زمان‌بندی‌شده لغو شد" in after
    (event,) = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "schedule.cancel")
    ).all()
    assert event.actor_id == client.admin.id


def test_a_switch_that_already_ran_cannot_be_cancelled(login_as, post, group, db):
    row = schedules.create(
        group["provider"].id, "chat", group["claude"].id, utcnow() + timedelta(seconds=1)
    )
    schedules.apply_due(utcnow() + timedelta(seconds=5))
    client = login_as("operator")

    page = client.get(f"/schedules/{row.id}/cancel").get_data(as_text=True)
    assert "دیگر در انتظار اجرا نیست" in page

    post(client, f"/schedules/{row.id}/cancel")

    assert reload(db, row.id).status == "done"
    assert "دیگر در انتظار اجرا نیست" in client.get("/schedules").get_data(as_text=True)


def test_a_post_without_the_csrf_token_changes_nothing(login_as, group, db):
    row = schedules.create(group["provider"].id, "chat", group["claude"].id, FUTURE)
    client = login_as("operator")
    answer = client.post(f"/schedules/{row.id}/cancel")
    assert answer.status_code in (400, 403)
    assert reload(db, row.id).status == "pending"


def test_a_viewer_cannot_cancel(login_as, post, group, db):
    row = schedules.create(group["provider"].id, "chat", group["claude"].id, FUTURE)
    viewer = login_as("viewer")
    assert viewer.get(f"/schedules/{row.id}/cancel").status_code == 403
    refused = post(viewer, f"/schedules/{row.id}/cancel")
    assert refused.status_code == 403
    assert "اجازه" in refused.get_data(as_text=True)
    assert reload(db, row.id).status == "pending"


def test_unknown_schedule_is_404(login_as):
    assert login_as("operator").get("/schedules/999999/cancel").status_code == 404


def test_the_navbar_and_each_group_link_to_the_schedules(login_as, group):
    client = login_as("viewer")
    nav = parse(client.get("/models").get_data(as_text=True))
    links = [a.get("href") for a in nav.find_all("a")]
    assert "/schedules" in links
    assert any(
        h and h.startswith("/schedules?") and "provider=openrouter" in h and "capability=chat" in h
        for h in links
    )
    assert "زمان‌بندی‌ها" in nav.find("nav").text


def test_the_history_names_the_schedule_and_its_author(login_as, group, make_admin, db):
    author = make_admin("operator", username="maryam")
    row = schedules.create(
        group["provider"].id,
        "chat",
        group["claude"].id,
        utcnow() + timedelta(seconds=1),
        actor=author,
    )
    schedules.apply_due(utcnow() + timedelta(seconds=5))

    history = login_as("admin").get("/history").get_data(as_text=True)

    # The stored actor is data («maryam (schedule 3)»); the page says it in Persian.
    number = str(row.id).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert f"maryam (تغییر زمان‌بندی‌شدهٔ شمارهٔ {number})" in history
    assert "(schedule " not in history
    db.session.rollback()
    applied = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "model.activate")
    ).all()
    assert any(e.actor_id == author.id for e in applied)
