"""History page: newest first, sentences per action, readable before/after, filters,
paging with a constant number of queries, Jalali dates with Persian digits in fa."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.support import field_error, text
from webapp import dates
from webapp.extensions import db
from webapp.models import AuditEvent
from webapp.operations import activation

# 2024-03-19 20:31 UTC is 2024-03-20 00:01 in Tehran (+03:30): Nowruz, 1403/01/01.
NOWRUZ_UTC = datetime(2024, 3, 19, 20, 31, tzinfo=UTC)


def add_events(n: int, *, start: datetime = NOWRUZ_UTC, **fields) -> None:
    for i in range(n):
        db.session.add(
            AuditEvent(
                created_at=start + timedelta(minutes=i),
                actor_name=fields.get("actor_name", "robot"),
                action=fields.get("action", "provider.update"),
                target_type=fields.get("target_type", "provider"),
                target_repr=fields.get("target_repr", f"p{i:03d}"),
                before=fields.get("before"),
                after=fields.get("after"),
            )
        )
    db.session.commit()


def event_ids(body: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="card mb-2" id="event-(\d+)"', body)]


def test_dates_are_jalali_with_persian_digits_in_fa(login_as):
    client = login_as("viewer")
    add_events(1, target_repr="nowruz")

    body = text(client.get("/history"))

    assert "۱۴۰۳/۰۱/۰۱ ۰۰:۰۱" in body
    assert 'datetime="2024-03-19T20:31:00+00:00"' in body


def test_dates_are_gregorian_with_ascii_digits_in_en(login_as):
    client = login_as("viewer")
    add_events(1, target_repr="nowruz")

    body = text(client.get("/history?lang=en"))

    assert "2024-03-20 00:01" in body
    assert "۱۴۰۳" not in body


def test_filter_for_dates(app):
    from flask_babel import force_locale

    with force_locale("fa"):
        assert dates.format_datetime(NOWRUZ_UTC) == "۱۴۰۳/۰۱/۰۱ ۰۰:۰۱"
        assert dates.format_datetime(None) == "—"
    with force_locale("en"):
        assert dates.format_datetime(NOWRUZ_UTC, with_time=False) == "2024-03-20"
    assert dates.parse_day("۱۴۰۳/۰۱/۰۱").isoformat() == "2024-03-20"
    assert dates.parse_day("1403-1-1").isoformat() == "2024-03-20"
    assert dates.parse_day("2024-03-21").isoformat() == "2024-03-21"
    assert dates.day_start_utc(dates.parse_day("1403/01/02")) == datetime(
        2024, 3, 20, 20, 30, tzinfo=UTC
    )
    for bad in ("1403/13/01", "yesterday", "2024-02-30", ""):
        with pytest.raises(ValueError):
            dates.parse_day(bad)


def test_activation_is_a_sentence_listing_what_it_deactivated(login_as, make_provider, make_model):
    client = login_as("operator")
    p = make_provider("openrouter")
    make_model(p, "gpt-4o", caps=["chat", "code"], active=True, display_name="GPT-4o")
    claude = make_model(p, "claude", caps=["chat", "code"], display_name="Claude 3.5")
    activation.activate(claude, actor=client.admin)

    body = text(client.get("/history"))

    cards = body.split('<li class="card mb-2"')[1:]
    newest = next(c for c in cards if '<strong class="event-title">فعال‌سازی مدل<' in c)
    assert (
        cards.index(newest) < 2
    )  # with the deactivation it caused, on top and "Claude 3.5" in newest
    assert "مدل‌هایی که این فعال‌سازی غیرفعالشان کرد" in newest
    assert "<bdi>GPT-4o</bdi> (گفت‌وگو)" in newest and "<bdi>GPT-4o</bdi> (کدنویسی)" in newest
    # The deactivation it caused, in the same batch, says why.
    assert "غیرفعال‌سازی مدل" in body and "در پی فعال شدن مدل «<bdi>Claude 3.5</bdi>»" in body


def test_before_and_after_are_readable(login_as, post, make_provider):
    client = login_as("admin")
    p = make_provider("openrouter", name="OpenRouter")
    post(client, f"/providers/{p.id}/edit", {"slug": "openrouter", "name": "Open Router"})

    body = text(client.get("/history?action=provider.update"))

    event = body.split('<li class="card mb-2"')[1]
    assert "ویرایش ارائه‌دهنده" in event
    row = event.split('<th scope="row">نام</th>')[1].split("</tr>")[0]
    assert "OpenRouter" in row and "Open Router" in row
    enabled = event.split('<th scope="row">فعال</th>')[1].split("</tr>")[0]
    assert "بله" in enabled and "خیر" in enabled  # the form left "enabled" unticked
    assert "Slug" not in event  # unchanged fields are left out


def test_newest_first_and_paged_by_fifty(login_as):
    client = login_as("viewer")
    add_events(120)

    first = text(client.get("/history?action=provider.update"))
    third = text(client.get("/history?action=provider.update&page=3"))

    ids = event_ids(first)
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    assert ids[0] == max(ids) and "p119" in first
    assert len(event_ids(third)) == 20 and "p000" in third
    assert "صفحهٔ ۱ از ۳" in first and "صفحهٔ ۳ از ۳" in third
    assert 'href="/history?page=2&amp;action=provider.update"' in first
    assert "۱۲۰ رویداد" in first
    beyond = text(client.get("/history?action=provider.update&page=99"))
    assert event_ids(beyond) == event_ids(third)  # clamped to the last page


def test_query_count_does_not_grow_with_the_page(login_as, count_queries):
    client = login_as("viewer")
    add_events(3)
    db.session.expire_all()  # both requests start alike: nothing cached in the session
    with count_queries() as small:
        # The viewer's own creation and sign-in are the security trail, not shown here.
        assert len(event_ids(text(client.get("/history")))) == 3
    add_events(100)
    db.session.expire_all()
    with count_queries() as full:
        assert len(event_ids(text(client.get("/history")))) == 50
    assert len(full) == len(small) <= 4  # (BEGIN,) the admin, the count, the page


def test_filters_and_paging_keep_each_other(login_as):
    client = login_as("viewer")
    add_events(60, action="model.update", target_type="aimodel", actor_name="sara")
    add_events(5, action="provider.create", actor_name="ali")

    by_action = text(client.get("/history?action=provider.create"))
    assert len(event_ids(by_action)) == 5

    by_actor = text(client.get("/history?actor=SAR"))
    assert "۶۰ رویداد" in by_actor
    assert "actor=SAR" in by_actor and "page=2" in by_actor  # next link keeps the filter

    by_type = text(client.get("/history?target_type=provider"))
    assert "۵ رویداد" in by_type


def test_date_range_in_jalali_or_gregorian(login_as):
    client = login_as("viewer")
    add_events(1, target_repr="before-nowruz", start=NOWRUZ_UTC - timedelta(hours=1))
    add_events(1, target_repr="on-nowruz")
    add_events(1, target_repr="next-day", start=NOWRUZ_UTC + timedelta(days=1))

    jalali = text(client.get("/history?date_from=۱۴۰۳/۰۱/۰۱&date_to=۱۴۰۳/۰۱/۰۱"))
    assert "on-nowruz" in jalali
    assert "before-nowruz" not in jalali and "next-day" not in jalali

    gregorian = text(client.get("/history?lang=en&date_from=2024-03-20"))
    assert "on-nowruz" in gregorian and "next-day" in gregorian
    assert "before-nowruz" not in gregorian


def test_bad_date_is_explained_next_to_its_field(login_as):
    client = login_as("viewer")
    add_events(2)

    response = client.get("/history?date_from=tomorrow&actor=robot")

    assert response.status_code == 400
    # The example is today (Tehran), not a fixed day that reads like a filled field.
    today = dates.format_datetime(datetime.now(UTC), with_time=False)
    assert re.fullmatch(r"[۰-۹]{4}/[۰-۹]{2}/[۰-۹]{2}", today)
    assert today in field_error(text(response), "date_from")
    assert len(event_ids(text(response))) == 2  # the other filters still apply


def test_unknown_actions_are_shown_as_they_are(login_as):
    client = login_as("superadmin")  # only they see actions outside the model history
    add_events(1, action="future.thing", target_type="gadget", after={"knob": "on"})

    body = text(client.get("/history"))

    assert '<bdi dir="ltr">future.thing</bdi>' in body
    assert '<bdi dir="ltr">on</bdi>' in body
