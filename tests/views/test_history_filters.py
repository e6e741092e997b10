"""History for daily use: sign-ins out of the way, filters by provider, model and group
(the link target a group uses), clean URLs, AI calls told in one line with translated
values and Persian digits, and the times said to be Tehran time."""

from __future__ import annotations

import re

from tests.support import field_error, text
from webapp.ai import recording
from webapp.extensions import db
from webapp.models import AuditEvent
from webapp.operations import activation


def openrouter_call(provider_id: int, capability: str, **fields) -> None:
    """Record one platform call to openrouter for ``capability`` (its operation too)."""
    recording.record_call(
        operation=capability,
        provider="openrouter",
        provider_id=provider_id,
        capability=capability,
        **fields,
    )


def event_ids(body: str) -> set[int]:
    return {int(i) for i in re.findall(r'<li class="card mb-2" id="event-(\d+)"', body)}


def ids_of(**where) -> set[int]:
    rows = db.session.query(AuditEvent.id).filter_by(**where).all()
    return {r.id for r in rows}


def sign_in_ids() -> set[int]:
    return ids_of(action="auth.login") | ids_of(action="auth.login_failed")


def test_sign_ins_are_hidden_until_asked_for(login_as, client, post):
    admin = login_as("superadmin")
    post(client, "/login", {"username": "nobody", "password": "wrong-password-1"})
    signins = sign_in_ids()
    assert len(signins) >= 2  # the superadmin's own sign-in and the failed attempt

    default = text(admin.get("/history"))
    assert not event_ids(default) & signins
    assert 'name="signins"' in default  # the toggle is offered

    shown = text(admin.get("/history?signins=1"))
    assert signins <= event_ids(shown)
    assert re.search(
        r"<input[^>]*checked[^>]*name=\"signins\"|<input[^>]*name=\"signins\"[^>]*checked", shown
    )

    # Asking for the sign-in action itself shows them too.
    failed = text(admin.get("/history?action=auth.login_failed"))
    assert event_ids(failed) == ids_of(action="auth.login_failed")


def test_a_viewer_gets_no_sign_in_toggle(login_as):
    body = text(login_as("viewer").get("/history?signins=1"))
    assert 'name="signins"' not in body
    assert not event_ids(body) & sign_in_ids()


def _two_providers(make_provider, make_model):
    a = make_provider("openrouter", name="OpenRouter")
    b = make_provider("openai", name="OpenAI")
    chat = make_model(a, "gpt-4o", caps=["chat"], display_name="GPT-4o")
    image = make_model(a, "flux", caps=["image"], display_name="Flux")
    other = make_model(b, "gpt-4o-mini", caps=["chat"], display_name="GPT-4o mini")
    return a, b, chat, image, other


def test_filter_by_provider_keeps_its_own_and_its_models_events(
    login_as, make_provider, make_model
):
    client = login_as("admin")
    a, _b, chat, image, other = _two_providers(make_provider, make_model)

    body = text(client.get("/history?provider=openrouter"))

    mine = (
        ids_of(target_type="provider", target_id=a.id)
        | ids_of(target_type="aimodel", target_id=chat.id)
        | ids_of(target_type="aimodel", target_id=image.id)
    )
    assert mine and event_ids(body) == mine
    assert re.search(
        r'<option[^>]*selected[^>]*value="openrouter"|<option[^>]*value="openrouter"[^>]*selected',
        body,
    )
    # The chosen provider's models become a filter of their own.
    assert re.search(rf'<option[^>]*value="{chat.id}"', body)
    assert not re.search(rf'<option[^>]*value="{other.id}"', body)


def test_a_group_links_to_its_history(login_as, make_provider, make_model):
    client = login_as("operator")
    a, _b, chat, image, other = _two_providers(make_provider, make_model)
    claude = make_model(a, "claude", caps=["chat", "code"], display_name="Claude")
    activation.activate(chat, actor=client.admin)
    activation.activate(claude, capabilities=["chat"], actor=client.admin)

    body = text(client.get("/history?provider=openrouter&capability=chat"))

    shown = event_ids(body)
    activations = ids_of(action="model.activate") | ids_of(action="model.deactivate")
    assert activations <= shown  # every switch of the chat group
    assert not shown & ids_of(target_type="aimodel", target_id=image.id)  # image group
    assert not shown & ids_of(target_type="aimodel", target_id=other.id)  # other provider
    assert not shown & ids_of(target_type="provider", target_id=a.id)  # no capability


def test_filter_by_model_includes_the_calls_that_used_it(login_as, make_provider, make_model):
    client = login_as("superadmin")
    a, _b, chat, image, _other = _two_providers(make_provider, make_model)
    openrouter_call(
        a.id,
        "chat",
        model=chat.model_id,
        model_source="active",
        key_source="shared",
        latency_ms=5,
        attempts=1,
    )
    openrouter_call(a.id, "image", model=image.model_id, model_source="active", key_source="shared")

    body = text(client.get(f"/history?model={chat.id}"))

    calls = ids_of(action="ai.call")
    shown = event_ids(body)
    assert len(shown & calls) == 1
    assert ids_of(target_type="aimodel", target_id=chat.id) <= shown
    assert not shown & ids_of(target_type="aimodel", target_id=image.id)


def test_unknown_filter_values_are_explained_and_filter_nothing(login_as, make_provider):
    client = login_as("viewer")
    make_provider("openrouter")
    everything = event_ids(text(client.get("/history")))

    for query, field, message in (
        ("provider=nope", "provider", "ارائه‌دهنده پیدا نشد."),
        ("model=abc", "model", "مدل پیدا نشد."),
        ("model=999999", "model", "مدل پیدا نشد."),
        ("capability=telepathy", "capability", "قابلیت «telepathy» شناخته‌شده نیست."),
        ("date_from=۱۴۰۳/۱۳/۰۱", "date_from", "روز را به شکل"),
    ):
        response = client.get(f"/history?{query}")
        assert response.status_code == 400, query
        assert message in (field_error(text(response), field) or ""), query
        assert event_ids(text(response)) == everything, query


def test_empty_parameters_are_dropped_by_a_redirect(login_as, make_provider):
    client = login_as("viewer")
    make_provider("openrouter")

    response = client.get("/history?action=&actor=&provider=openrouter&date_from=+&page=")

    assert response.status_code == 302
    assert response.headers["Location"] == "/history?provider=openrouter"
    assert client.get("/history?action=&actor=").headers["Location"] == "/history"
    assert client.get("/history?provider=openrouter").status_code == 200


def test_ai_call_is_one_translated_line(login_as, make_provider):
    client = login_as("superadmin")
    p = make_provider("openrouter")
    openrouter_call(
        p.id,
        "chat",
        model="openai/gpt-4o",
        model_source="explicit",
        key_source="personal",
        latency_ms=5,
        attempts=1,
    )
    openrouter_call(
        p.id, "image", model_source="active", outcome="error", error_kind="no_api_access"
    )
    recording.record_call(operation="models", provider="openrouter", provider_id=p.id)

    body = text(client.get("/history?action=ai.call"))

    cards = body.split('<li class="card mb-2"')[1:]
    assert len(cards) == 3
    for card in cards:
        assert "event-changes" not in card  # no empty before/after table
        assert 'class="small mb-0 mt-2 event-line"' in card
    explicit, denied, listing = cards[2], cards[1], cards[0]
    assert "انتخاب دستی برای همین فراخوانی" in explicit
    assert "زمان پاسخ (میلی‌ثانیه): <bdi>۵</bdi>" in explicit
    assert "تعداد تلاش‌ها: <bdi>۱</bdi>" in explicit
    assert "گفت‌وگو" in explicit and "کلید شخصی" in explicit
    assert "بدون دسترسی به API" in denied and "مدل فعال" in denied
    assert "تولید تصویر" in denied and "ناموفق" in denied
    assert "فهرست مدل‌ها (آزمایش اتصال)" in listing
    for raw in (">active<", ">explicit<", ">no_api_access<", ">image<", ">chat<", ">models<"):
        assert raw not in body


def test_actors_without_an_account_are_named_in_persian(login_as):
    client = login_as("viewer")
    for actor in ("cli", "seed-demo"):
        db.session.add(
            AuditEvent(actor_name=actor, action="provider.update", target_type="provider")
        )
    db.session.commit()

    body = text(client.get("/history"))

    assert "از سوی <bdi>خط فرمان</bdi>" in body
    assert "از سوی <bdi>دادهٔ نمونه</bdi>" in body
    assert ">cli<" not in body and ">seed-demo<" not in body


def test_times_say_they_are_tehran_time_and_days_have_a_picker(login_as):
    body = text(login_as("viewer").get("/history"))

    assert "روزها و ساعت‌ها به وقت تهران" in body
    assert 'data-jalali-picker="fa"' in body and "js/jalali-picker.js" in body
    # A placeholder that says it is an example, never a fixed day that looks filled in.
    placeholder = re.search(r'id="date_from"[^>]*placeholder="([^"]*)"', body) or re.search(
        r'placeholder="([^"]*)"[^>]*id="date_from"', body
    )
    assert placeholder and placeholder.group(1).startswith("مثلاً ")
    assert "۱۴۰۳/۰۵/۰۱" not in body

    english = text(login_as("viewer").get("/history?lang=en"))
    assert 'data-jalali-picker="en"' in english and "Tehran time" in english


def test_each_group_on_the_models_page_and_the_overview_links_to_its_own_history(
    login_as, make_provider, make_model
):
    client = login_as("viewer")
    _a, _b, chat, _image, _other = _two_providers(make_provider, make_model)
    activation.activate(chat)
    target = "/history?provider=openrouter&amp;capability=chat"

    models_page = text(client.get("/models"))
    links = re.findall(r'href="(/history\?[^"]+)"[^>]*data-group-history', models_page)
    assert target in links
    assert "/history?provider=openrouter&amp;capability=image" in links  # one per group

    overview = text(client.get("/"))
    assert f'href="{target}"' in overview
