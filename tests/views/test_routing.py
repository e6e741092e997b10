"""A group's traffic policies on the dashboard: the block on the models page, scheduling a
switch with a Jalali day and a Tehran time, editing fallbacks and split in two steps
(what will happen, then «تأیید»), Persian refusals that change nothing, and roles."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import jdatetime
import pytest
from sqlalchemy import func, select

from tests.html_tree import parse
from webapp.dates import local_instant_utc
from webapp.models import AuditEvent, Schedule
from webapp.operations import routing, schedules

HX = {"HX-Request": "true", "HX-Current-URL": "http://localhost/models"}
FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def url(group, suffix: str = "", capability: str = "chat") -> str:
    return f"/routing/{group['provider'].id}/{capability}{suffix}"


def future_day(years: int = 1) -> str:
    """A Jalali day a year from now, in Persian digits as an admin types it."""
    today = jdatetime.date.today()
    return f"{today.year + years}/{today.month:02d}/{min(today.day, 28):02d}".translate(FA_DIGITS)


def marked(tree, attr: str, tag: str | None = None):
    """The first element (of ``tag``) that carries the attribute ``attr``."""
    return next((el for el in tree.find_all(tag) if el.has(attr)), None)


def schedule_count(db) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Schedule))


def events(db, action: str) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- Jalali day + Tehran time → UTC -------------------------------------------------------


def test_a_jalali_day_and_a_tehran_time_give_the_right_utc_instant():
    # 1405/09/15 is 6 December 2026; Iran keeps +03:30 all year (no daylight time since 2022).
    tehran = ZoneInfo("Asia/Tehran")
    assert local_instant_utc("۱۴۰۵/۰۹/۱۵", "۰۹:۳۰", tehran) == datetime(
        2026, 12, 6, 6, 0, tzinfo=UTC
    )
    # A summer day: still +03:30 (the old +04:30 daylight time is gone).
    assert local_instant_utc("1405/04/01", "00:15") == datetime(2026, 6, 21, 20, 45, tzinfo=UTC)


# --- the block on the models page ---------------------------------------------------------


def test_the_group_shows_its_next_switch_fallbacks_and_split(
    login_as, group, make_provider, make_model, app
):
    backup = make_provider("backup", name="Backup AI")
    mistral = make_model(backup, "mistral", caps=["chat"], display_name="Mistral Large")
    provider = group["provider"]
    routing.set_routing(
        provider.id, "chat", [group["claude"].id, mistral.id], [routing.Arm(group["llama"].id, 10)]
    )
    at = datetime(2030, 3, 21, 5, 30, tzinfo=UTC)  # 1409/01/01 09:00 in Tehran
    schedules.create(provider.id, "chat", group["claude"].id, at)

    page = login_as("viewer").get("/models")

    tree = parse(page.get_data(as_text=True))
    block = tree.find(id=f"policies-group-{provider.id}-chat")
    text = block.text.replace(" ،", "،")  # the tree puts a space after each element
    assert "تغییر زمان‌بندی‌شده: Claude 3.5، ۱۴۰۹/۰۱/۰۱ ۰۹:۰۰" in " ".join(text.split())
    assert "پشتیبان:" in text and "Claude 3.5" in text and "Mistral Large (Backup AI)" in text
    assert "آزمایش ۱۰٪: Llama 3" in " ".join(text.split())
    assert "مدل فعال: ۹۰٪" in text
    # The code group has none of them; a viewer gets no editing buttons.
    code = tree.find(id=f"policies-group-{provider.id}-code")
    assert "پشتیبان" not in code.text and "آزمایش" not in code.text
    assert marked(block, "data-open-schedule") is None


def test_the_block_has_no_named_input_that_the_radio_form_would_post(login_as, group):
    page = login_as("operator").get("/models").get_data(as_text=True)
    block = parse(page).find(id=f"policies-group-{group['provider'].id}-chat")
    assert block.find_all("input") == [] and block.find_all("select") == []
    assert marked(block, "data-open-schedule") is not None


# --- scheduling a switch ------------------------------------------------------------------


def test_an_operator_schedules_a_switch_in_two_steps(login_as, post, group, db):
    client = login_as("operator")
    day = future_day()
    form = {"model": str(group["claude"].id), "when": "at", "date": day, "time": "۰۹:۳۰"}

    first = post(client, url(group, "/schedule"), form, headers=HX)

    assert first.status_code == 200
    dialog = parse(first.get_data(as_text=True)).find("dialog")
    assert dialog is not None and dialog.has("open")
    summary = marked(dialog, "data-confirm-summary").text
    assert "Claude 3.5" in summary and "۰۹:۳۰" in summary
    # the live model's conflict warning, as the radio switch gives it
    assert "فعال کردن این مدل باعث غیرفعال شدن مدل GPT-4o می‌شود" in dialog.text
    assert schedule_count(db) == 0  # nothing yet
    confirmed = dialog.find("input", name="confirmed").get("value")

    done = post(client, url(group, "/schedule"), form | {"confirmed": confirmed}, headers=HX)

    assert done.status_code == 200
    body = done.get_data(as_text=True)
    (row,) = db.session.scalars(select(Schedule)).all()
    assert row.model_id == group["claude"].id and row.status == "pending"
    assert row.run_at == local_instant_utc(day, "09:30")
    assert row.created_by_id == client.admin.id
    tree = parse(body)
    oob = tree.find(id=f"policies-group-{group['provider'].id}-chat")
    assert oob.get("hx-swap-oob") == "true"
    assert "تغییر زمان‌بندی‌شده" in oob.text
    assert "زمان‌بندی شد" in tree.find(id="flash-status").text
    assert [e.actor_id for e in events(db, "schedule.create")] == [client.admin.id]


def test_a_switch_after_a_number_of_calls(login_as, post, group, db):
    client = login_as("operator")
    form = {"model": str(group["llama"].id), "when": "calls", "after_calls": "۵۰۰"}
    first = post(client, url(group, "/schedule"), form, headers=HX)
    confirmed = parse(first.get_data(as_text=True)).find("input", name="confirmed").get("value")

    post(client, url(group, "/schedule"), form | {"confirmed": confirmed}, headers=HX)

    (row,) = db.session.scalars(select(Schedule)).all()
    assert (row.model_id, row.after_calls) == (group["llama"].id, 500)


def test_scheduling_none_of_them_warns_that_calls_will_fail(login_as, post, group):
    client = login_as("operator")
    form = {"model": "none", "when": "at", "date": future_day(), "time": "10:00"}
    answer = post(client, url(group, "/schedule"), form, headers=HX).get_data(as_text=True)
    assert "GPT-4o" in answer and "دیگری فعال شود" in answer


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"date": "۱۴۰۵/۱۳/۴۰", "time": "09:00"}, "date", "این روز معتبر نیست"),
        ({"date": "hello", "time": "09:00"}, "date", "این روز معتبر نیست"),
        ({"date": "", "time": "09:00"}, "date", "روز را بنویسید"),
        ({"time": "25:00"}, "time", "ساعت معتبری نیست"),
        ({"time": "9.30"}, "time", "ساعت معتبری نیست"),
        ({"date": "۱۴۰۰/۰۱/۰۱", "time": "09:00"}, "time", "گذشته است"),
        ({"model": "999999"}, "model", "یکی از مدل‌های همین گروه"),
        ({"model": "abc"}, "model", "یکی از مدل‌های همین گروه"),
        ({"when": "calls", "after_calls": "0"}, "after_calls", "بزرگ‌تر از صفر"),
        ({"when": "calls", "after_calls": "-3"}, "after_calls", "بزرگ‌تر از صفر"),
    ],
)
def test_bad_schedule_input_gets_a_persian_error_and_changes_nothing(
    form, field, message, login_as, post, group, db
):
    client = login_as("operator")
    data = {"model": str(group["claude"].id), "when": "at", "date": future_day(), "time": "09:00"}
    data |= form

    answer = post(client, url(group, "/schedule"), data, headers=HX)

    assert answer.status_code == 400
    tree = parse(answer.get_data(as_text=True))
    feedback = tree.find(id=f"{field}-error-group-{group['provider'].id}-chat")
    assert feedback is not None and message in feedback.text
    assert "هیچ تغییری" in tree.find(id="flash-alert").text
    assert schedule_count(db) == 0
    assert events(db, "schedule.create") == []


def test_a_forged_confirmation_for_other_values_only_shows_the_step_again(
    login_as, post, group, db
):
    client = login_as("operator")
    form = {"model": str(group["claude"].id), "when": "at", "date": future_day(), "time": "09:00"}
    forged = form | {"confirmed": f"{group['llama'].id}|2030-01-01T00:00:00+00:00"}
    answer = post(client, url(group, "/schedule"), forged, headers=HX)
    assert answer.status_code == 200
    assert marked(parse(answer.get_data(as_text=True)), "data-confirm-schedule")
    assert schedule_count(db) == 0


def test_without_htmx_the_forms_are_plain_posts_that_redirect(login_as, post, group, db):
    client = login_as("operator")
    page = client.get(url(group))
    assert page.status_code == 200
    tree = parse(page.get_data(as_text=True))
    form = marked(tree, "data-schedule-form", "form")
    assert not form.has("hx-post")
    data = {"model": str(group["claude"].id), "when": "at", "date": future_day(), "time": "09:00"}
    step = post(client, url(group, "/schedule"), data)
    confirmed = parse(step.get_data(as_text=True)).find("input", name="confirmed")
    done = post(client, url(group, "/schedule"), data | {"confirmed": confirmed.get("value")})
    assert done.status_code == 302 and done.headers["Location"].endswith("/models")
    assert schedule_count(db) == 1


# --- fallbacks and split -----------------------------------------------------------------


def test_an_operator_edits_fallbacks_and_split(
    login_as, post, group, make_provider, make_model, db
):
    backup = make_provider("backup", name="Backup AI")
    mistral = make_model(backup, "mistral", caps=["chat"], display_name="Mistral Large")
    client = login_as("operator")
    claude, llama = group["claude"], group["llama"]
    form = {
        "fallback_1": str(mistral.id),
        "fallback_2": str(claude.id),
        "fallback_3": "",
        f"percent_{llama.id}": "۱۰",
        f"percent_{claude.id}": "0",
    }

    step = post(client, url(group), form, headers=HX)

    assert step.status_code == 200
    summary = marked(parse(step.get_data(as_text=True)), "data-confirm-summary")
    assert "Mistral Large" in summary.text and "۱۰٪" in summary.text
    assert "۹۰٪" in summary.text  # the live model's share
    assert routing.get_routing(group["provider"].id, "chat").fallbacks == ()
    confirmed = parse(step.get_data(as_text=True)).find("input", name="confirmed")

    done = post(client, url(group), form | {"confirmed": confirmed.get("value")}, headers=HX)

    assert done.status_code == 200
    db.session.rollback()
    saved = routing.get_routing(group["provider"].id, "chat")
    assert saved.fallbacks == (mistral.id, claude.id)
    assert saved.split == (routing.Arm(llama.id, 10),)
    block = parse(done.get_data(as_text=True)).find(
        id=f"policies-group-{group['provider'].id}-chat"
    )
    assert "آزمایش ۱۰٪" in " ".join(block.text.split())
    assert [e.actor_id for e in events(db, "routing.update")] == [client.admin.id]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"percent": "60"}, "از ۱ تا ۵۰"),
        ({"percent": "abc"}, "از ۱ تا ۵۰"),
        ({"fallback_1": "999999"}, "مدلی با این قابلیت"),
    ],
)
def test_bad_routing_input_gets_a_persian_error_and_changes_nothing(
    form, message, login_as, post, group, db
):
    routing.set_routing(group["provider"].id, "chat", [group["claude"].id], [])
    client = login_as("operator")
    data = {"fallback_1": str(group["claude"].id)}
    if "percent" in form:
        data[f"percent_{group['llama'].id}"] = form.pop("percent")
    data |= form

    answer = post(client, url(group), data, headers=HX)

    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    db.session.rollback()
    assert routing.get_routing(group["provider"].id, "chat").fallbacks == (group["claude"].id,)
    assert events(db, "routing.update") == [] or len(events(db, "routing.update")) == 1


def test_the_service_refusal_reaches_the_page(login_as, post, group, make_model, db):
    """Arms above 90 % in all: each arm is valid on its own, the operation refuses."""
    provider = group["provider"]
    extra = [make_model(provider, f"m{i}", caps=["chat"]) for i in range(2)]
    client = login_as("operator")
    data = {f"percent_{m.id}": "40" for m in [group["claude"], *extra]}
    step = post(client, url(group), data, headers=HX)
    confirmed = parse(step.get_data(as_text=True)).find("input", name="confirmed")

    answer = post(client, url(group), data | {"confirmed": confirmed.get("value")}, headers=HX)

    assert answer.status_code == 400
    assert "حداکثر" in answer.get_data(as_text=True) or "۹۰" in answer.get_data(as_text=True)
    db.session.rollback()
    assert routing.get_routing(provider.id, "chat").split == ()


# --- roles ---------------------------------------------------------------------------------


def test_a_viewer_sees_the_policies_but_cannot_change_them(login_as, post, group, db):
    viewer = login_as("viewer")
    page = viewer.get(url(group))
    assert page.status_code == 200
    assert marked(parse(page.get_data(as_text=True)), "data-schedule-form", "form") is None
    data = {"model": str(group["claude"].id), "when": "at", "date": future_day(), "time": "09:00"}
    refused = post(viewer, url(group, "/schedule"), data | {"confirmed": "x"})
    assert refused.status_code == 403
    assert "اجازه" in refused.get_data(as_text=True)
    assert post(viewer, url(group), {"fallback_1": str(group["claude"].id)}).status_code == 403
    assert schedule_count(db) == 0


def test_unknown_groups_are_404(login_as):
    client = login_as("operator")
    assert client.get("/routing/999999/chat").status_code == 404
    assert client.get("/routing/1/teleport").status_code == 404


def test_anonymous_is_sent_to_sign_in(client, group):
    answer = client.get(url(group))
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
