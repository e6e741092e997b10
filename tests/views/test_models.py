"""The models page (DESIGN.md §6) on the server side: the markup contract, the
confirmation dialog, the out-of-band answer after a change, refusals, bad input, and a
query count that does not grow with the catalogue."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select

from tests import support
from tests.html_tree import parse
from webapp.capabilities import CAPABILITIES
from webapp.extensions import db as _db
from webapp.models import AIModel
from webapp.operations import activation

HX = support.MODELS_HX
NO_ACTIVE_GROUP = "هیچ مدل فعالی در این گروه نیست"


pytestmark = pytest.mark.usefixtures("fresh_g_per_request")
state = support.active_pairs


@pytest.fixture
def catalogue(two_providers, make_model):
    coder = make_model(
        two_providers["p"], "coder", caps=["code"], active=True, display_name="Coder"
    )
    return two_providers | {"coder": coder}


def choose(client, provider, capability, model=None, *, confirm=False, token=True, **extra):
    data = {
        "provider": str(getattr(provider, "id", provider)),
        "capability": capability,
        "model": "" if model is None else str(getattr(model, "id", model)),
    }
    if confirm:
        data["confirm"] = "1"
    data.update(extra)
    if token:
        return support.choose_on_models_page(client, data)
    return client.post("/models/choose", data=data, headers=HX)


def body(response) -> str:
    return response.get_data(as_text=True)


# --- the page's markup ------------------------------------------------------------------


def test_home_is_the_overview_linking_the_models_page(login_as):
    client = login_as("viewer")
    response = client.get("/")
    assert response.status_code == 200
    assert 'href="/models"' in response.get_data(as_text=True)


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/models")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_markup_contract(login_as, catalogue):
    p, gpt, claude, coder = (catalogue[k] for k in ("p", "gpt", "claude", "coder"))
    response = login_as("operator").get("/models")
    assert response.status_code == 200
    assert "HX-Request" in response.headers.get("Vary", "")
    tree = parse(response.data)

    html = tree.find("html")
    assert (html.get("lang"), html.get("dir")) == ("fa", "rtl")
    assert tree.find("meta", name="csrf-token").get("content")
    config = tree.find("meta", name="htmx-config").get("content")
    assert '"includeIndicatorStyles": false' in config
    assert "X-CSRFToken" in tree.find("body").get("hx-headers")
    assert tree.by_id("flash-status").get("role") == "status"
    assert tree.by_id("flash-alert").get("role") == "alert"
    assert not [s for s in tree.find_all("script") if not s.get("src")], "inline <script>"
    assert not [el for el in tree.iter() if el.has("style")], "style attribute"

    chat = tree.by_id(f"group-{p.id}-chat")
    assert chat.get("hx-post") == "/models/choose"
    fieldset = chat.find("fieldset")
    legend = fieldset.find("legend").text
    assert "OpenRouter" in legend and "گفت‌وگو" in legend
    radios = fieldset.find_all("input", type="radio")
    labels = {fieldset.find("label", for_=r.get("id")).text: r for r in radios}
    assert set(labels) == {
        "Claude 3.5 Sonnet vendor/claude-3.5",
        "GPT-4o vendor/gpt-4o",
        "هیچ‌کدام",
    }
    checked = [r for r in radios if r.has("checked")]
    assert [r.get("value") for r in checked] == [str(gpt.id)]
    assert labels["هیچ‌کدام"].get("value") == ""
    assert not any(r.has("disabled") for r in radios)

    code = tree.by_id(f"group-{p.id}-code").find("fieldset")
    assert "کدنویسی" in code.find("legend").text
    code_checked = [
        r.get("value") for r in code.find_all("input", type="radio") if r.has("checked")
    ]
    assert code_checked == [str(coder.id)]
    # Claude has two capabilities: it is offered in both groups.
    assert code.find("input", value=str(claude.id)) is not None

    image = tree.by_id(f"group-{catalogue['other'].id}-image")
    assert NO_ACTIVE_GROUP in image.text
    none_radio = image.find("input", value="")
    assert none_radio.has("checked")
    # Latin ids are isolated inside the Persian page.
    model_id = fieldset.find("bdi", class_="model-id")
    assert model_id.get("dir") == "ltr"


def test_viewer_sees_disabled_radios_and_gets_403_on_post(login_as, catalogue):
    viewer = login_as("viewer")
    tree = parse(viewer.get("/models").data)
    radios = tree.find_all("input", type="radio")
    assert radios and all(r.has("disabled") for r in radios)
    assert not [e for e in tree.iter() if e.has("hx-post")]
    assert tree.by_id("read-only-note") is not None
    before = state()

    response = choose(viewer, catalogue["p"], "chat", catalogue["claude"], confirm=True)

    assert response.status_code == 403
    assert "اجازهٔ انجام این کار را ندارید" in body(response)
    assert state() == before


def test_navigation_shows_only_what_the_admin_may_open(login_as, app):
    viewer_nav = parse(login_as("viewer").get("/models").data).find("nav")
    hrefs = {a.get("href") for a in viewer_nav.find_all("a", class_="nav-link")}
    assert "/models" in hrefs
    for endpoint, permission in (
        ("admins.index", "manage_admins"),
        ("providers.index", "manage_providers"),
    ):
        view = app.view_functions.get(endpoint)
        if view is not None and getattr(view, "required_permission", None) == permission:
            with app.test_request_context():
                from flask import url_for

                assert url_for(endpoint) not in hrefs
    superadmin_nav = parse(login_as("superadmin").get("/models").data).find("nav")
    links = {a.get("href") for a in superadmin_nav.find_all("a", class_="nav-link")}
    assert links >= hrefs
    for href in links:  # only links whose page exists
        assert href in {r.rule for r in app.url_map.iter_rules()}


# --- the change: dialog, confirm, cancel -------------------------------------------------


def test_a_conflicting_change_first_answers_with_the_dialog(login_as, catalogue):
    client = login_as("operator")
    before = state()

    response = choose(client, catalogue["p"], "chat", catalogue["claude"])

    assert response.status_code == 200
    assert state() == before, "the dialog must not write"
    text = body(response)
    assert "<dialog open" in text
    tree = parse(text)
    dialog = tree.find("dialog")
    items = [li.text for li in dialog.find_all("li")]
    assert items == ["فعال کردن این مدل باعث غیرفعال شدن مدل GPT-4o می‌شود"]
    buttons = {b.text: b for b in dialog.find_all("button")}
    assert set(buttons) == {"تأیید", "انصراف"}
    assert buttons["تأیید"].get("type") == "submit" and buttons["تأیید"].has("autofocus")
    assert buttons["انصراف"].get("type") == "button"
    assert not buttons["انصراف"].has("hx-post"), "cancel sends nothing"
    form = dialog.find("form")
    assert form.get("hx-post") == "/models/choose"
    hidden = {i.get("name"): i.get("value") for i in form.find_all("input", type="hidden")}
    assert hidden == {
        "provider": str(catalogue["p"].id),
        "capability": "chat",
        "model": str(catalogue["claude"].id),
        "confirm": "1",
    }
    assert tree.by_id("dialog-area").get("hx-swap-oob") == "innerHTML"


def test_confirm_activates_and_answers_with_only_the_affected_groups(login_as, catalogue):
    p, gpt, claude, coder = (catalogue[k] for k in ("p", "gpt", "claude", "coder"))
    client = login_as("operator")

    response = choose(client, p, "chat", claude, confirm=True)

    assert response.status_code == 200
    assert (claude.id, "chat") in state()
    assert (gpt.id, "chat") not in state()
    assert (coder.id, "code") in state()
    tree = parse(response.data)
    groups = [f for f in tree.find_all("form") if f.get("id", "").startswith("group-")]
    assert [g.get("id") for g in groups] == [f"group-{p.id}-chat"]
    assert groups[0].get("hx-swap-oob") == "true"
    checked = [
        r.get("value") for r in groups[0].find_all("input", type="radio") if r.has("checked")
    ]
    assert checked == [str(claude.id)]
    status = tree.by_id("flash-status")
    assert status.get("hx-swap-oob") == "innerHTML"
    assert "مدل فعال شد" in status.text
    assert "۱ مدل دیگر غیرفعال شد" in status.text
    assert tree.by_id("flash-alert").text == ""
    assert tree.by_id("dialog-area").children == [] or tree.by_id("dialog-area").text == ""
    assert "<html" not in body(response)


def test_dialog_reflects_the_state_at_the_time_of_the_click(login_as, catalogue, make_model):
    p = catalogue["p"]
    client = login_as("operator")
    client.get("/models")  # the page shows GPT-4o as live
    llama = make_model(p, "llama", caps=["chat"], display_name="Llama 3.1")
    activation.activate(llama, actor="another admin")

    response = choose(client, p, "chat", catalogue["claude"])

    items = [li.text for li in parse(response.data).find("dialog").find_all("li")]
    assert items == ["فعال کردن این مدل باعث غیرفعال شدن مدل Llama 3.1 می‌شود"]


def test_a_free_group_switches_without_a_dialog(login_as, catalogue):
    client = login_as("operator")
    other, sdxl = catalogue["other"], catalogue["sdxl"]

    response = choose(client, other, "image", sdxl)

    assert response.status_code == 200
    assert "<dialog" not in body(response)
    assert (sdxl.id, "image") in state()
    status = parse(response.data).by_id("flash-status").text
    assert "مدل فعال شد" in status and "غیرفعال شد" not in status.replace("مدل فعال شد", "")


def test_none_asks_first_then_clears_the_group(login_as, catalogue):
    p, gpt = catalogue["p"], catalogue["gpt"]
    client = login_as("operator")

    asked = choose(client, p, "chat", None)

    assert asked.status_code == 200
    assert "<dialog open" in body(asked) and "GPT-4o" in body(asked)
    assert (gpt.id, "chat") in state()  # nothing written before confirming

    response = choose(client, p, "chat", None, confirm=True)

    assert response.status_code == 200
    assert (gpt.id, "chat") not in state()
    tree = parse(response.data)
    assert "مدل غیرفعال شد" in tree.by_id("flash-status").text
    assert "GPT-4o" in tree.by_id("flash-status").text
    group = tree.by_id(f"group-{p.id}-chat")
    assert NO_ACTIVE_GROUP in group.text
    assert group.find("input", value="").has("checked")


def test_missing_csrf_token_is_refused_and_changes_nothing(login_as, catalogue):
    client = login_as("operator")
    before = state()

    response = choose(
        client, catalogue["p"], "chat", catalogue["claude"], confirm=True, token=False
    )

    assert response.status_code == 400
    assert "نشست شما منقضی شده" in body(response)
    assert "data-flash" in body(response) and "<html" not in body(response)
    assert state() == before


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"model": "999999"}, 404, "مدل پیدا نشد."),
        *(
            ({"model": malformed}, 400, "مدل انتخاب‌شده معتبر نیست.")
            for malformed in ("abc", "1; DROP TABLE ai_model", "-1", "١")
        ),
        ({"capability": "image", "model": "claude"}, 400, "این مدل قابلیت image را ندارد."),
        ({"capability": "telepathy"}, 400, "قابلیت ناشناخته"),
        ({"capability": ""}, 400, "قابلیت ناشناخته"),
        ({"provider": "openrouter"}, 400, "ارائه‌دهنده در درخواست مشخص نشده است."),
        ({"provider": ""}, 400, "ارائه‌دهنده در درخواست مشخص نشده است."),
        ({"provider": "424242"}, 404, "ارائه‌دهنده پیدا نشد."),
        ({"provider": "other", "model": "claude"}, 400, "این مدل متعلق به این ارائه‌دهنده نیست."),
    ],
)
def test_bad_input_gets_a_clear_persian_error_and_changes_nothing(
    login_as, catalogue, form, status, message
):
    client = login_as("operator")
    data = {
        "provider": str(catalogue["p"].id),
        "capability": "chat",
        "model": str(catalogue["claude"].id),
        "confirm": "1",
    }
    for key, value in form.items():
        data[key] = str(catalogue[value].id) if value in catalogue else value
    before = state()
    headers = dict(HX, **{"X-CSRFToken": support.csrf_token(client, "/models")})

    response = client.post("/models/choose", data=data, headers=headers)

    assert response.status_code == status
    assert message in body(response)
    assert state() == before


def test_bad_input_without_htmx_gets_the_error_page(login_as, catalogue):
    client = login_as("operator")
    token = support.csrf_token(client, "/models")
    response = client.post(
        "/models/choose",
        data={"provider": "x", "capability": "chat"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 400
    tree = parse(response.data)
    assert tree.find("html").get("dir") == "rtl"
    assert "ارائه‌دهنده در درخواست مشخص نشده است." in tree.find("main").text


# --- filters ------------------------------------------------------------------------


def test_filters_by_provider_capability_and_search(login_as, catalogue):
    client = login_as("operator")
    p, other = catalogue["p"], catalogue["other"]

    def ids(r):
        return {
            f.get("id")
            for f in parse(r.data).find_all("form")
            if f.get("id", "").startswith("group-")
        }

    assert ids(client.get("/models?provider=stability")) == {f"group-{other.id}-image"}
    assert ids(client.get("/models?capability=code")) == {f"group-{p.id}-code"}
    assert ids(client.get("/models?q=CLAUDE")) == {f"group-{p.id}-chat", f"group-{p.id}-code"}
    assert ids(client.get("/models?q=vendor/coder")) == {f"group-{p.id}-code"}
    nothing = client.get("/models?q=zzz-no-such")
    assert ids(nothing) == set() and "هیچ موردی با این فیلترها پیدا نشد." in body(nothing)
    # Unknown values are ignored, never an error.
    assert ids(client.get("/models?capability=telepathy&provider=")) == {
        f"group-{p.id}-chat",
        f"group-{p.id}-code",
        f"group-{other.id}-image",
    }
    # The filter form keeps its values.
    tree = parse(client.get("/models?provider=openrouter&capability=chat&q=gpt").data)
    assert tree.by_id("filter-q").get("value") == "gpt"
    assert tree.by_id("filter-capability").find("option", value="chat").has("selected")


def test_filter_request_from_htmx_gets_only_the_results(login_as, catalogue):
    client = login_as("operator")
    response = client.get(
        "/models?capability=code", headers={"HX-Request": "true", "HX-Target": "model-results"}
    )
    assert response.status_code == 200
    text = body(response)
    assert "<html" not in text and 'id="model-results"' in text
    assert "HX-Request" in response.headers["Vary"]
    assert f'id="group-{catalogue["p"].id}-code"' in text


def test_filters_survive_an_edit(login_as, catalogue):
    client = login_as("operator")
    tree = parse(client.get("/models?provider=openrouter&capability=chat").data)
    edit = next(a for a in tree.find_all("a", class_="edit-link"))
    assert "next=/models?provider%3Dopenrouter%26capability%3Dchat" in edit.get("href") or (
        "next=%2Fmodels%3Fprovider%3Dopenrouter%26capability%3Dchat" in edit.get("href")
    )
    # After a change, the re-rendered groups keep the page's filters in their links.
    headers = dict(HX)
    headers["HX-Current-URL"] = "http://localhost/models?provider=openrouter&capability=chat"
    headers["X-CSRFToken"] = support.csrf_token(client, "/models")
    response = client.post(
        "/models/choose",
        headers=headers,
        data={
            "provider": str(catalogue["p"].id),
            "capability": "chat",
            "model": "",
            "confirm": "1",
        },
    )
    assert "capability%3Dchat" in body(response)


# --- queries --------------------------------------------------------------------------


def _count_queries(client, path: str) -> int:
    engine = _db.engine
    _db.session.remove()  # the request starts from nothing, as in production
    count = 0

    def before(*_args):
        nonlocal count
        count += 1

    event.listen(engine, "before_cursor_execute", before)
    try:
        response = client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert response.status_code == 200
    return count


def test_query_count_does_not_grow_with_the_catalogue(login_as, make_provider, make_model):
    client = login_as("operator")
    p1 = make_provider()
    make_model(p1, caps=["chat"], active=True)
    make_model(p1, caps=["chat", "code"])
    client.get("/models")  # warm-up
    small = _count_queries(client, "/models")

    for _ in range(3):
        p = make_provider()
        for i in range(8):
            make_model(p, caps=["chat", "code", "image"][: 1 + i % 3], active=i == 0)
    client.get("/models")  # the groups are counted again once after a change
    large = _count_queries(client, "/models")

    assert large == small, f"{small} queries for 2 models, {large} for 26"
    assert small <= 7  # begin, admin, group counts, providers, models, capability rows, policies


# --- forms --------------------------------------------------------------------------


def form_token(client, path: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body(client.get(path)))
    return match.group(1)


def test_the_capabilities_are_the_contracts():
    """docs/CONTRACTS.md §1 fixes the identifiers and their order; the pages list them so."""
    contract = (support.ROOT / "docs" / "CONTRACTS.md").read_text(encoding="utf-8")
    listed = re.search(r"The capabilities are exactly (.+?) \(identifiers fixed", contract, re.S)
    assert tuple(re.findall(r"`(\w+)`", listed.group(1))) == CAPABILITIES


def test_create_form_shows_translated_capabilities(login_as, catalogue):
    tree = parse(login_as("operator").get("/models/new?provider=openrouter").data)
    boxes = tree.find_all("input", type="checkbox", name="capabilities")
    assert [b.get("value") for b in boxes] == list(CAPABILITIES)
    assert tree.find("label", for_=boxes[0].get("id")).text == "گفت‌وگو"
    assert tree.by_id("provider").find("option", value="openrouter").has("selected")


def test_create_with_errors_shows_persian_messages_next_to_fields(login_as, catalogue):
    client = login_as("operator")
    response = client.post(
        "/models/new",
        data={
            "csrf_token": form_token(client, "/models/new"),
            "provider": "openrouter",
            "name": "has space",
            "model_id": "x",
            "display_name": "",
            "capabilities": [],
        },
    )
    assert response.status_code == 400
    tree = parse(response.data)
    assert "فقط از حروف لاتین" in tree.by_id("name-error").text
    assert tree.by_id("display_name-error").text == "پر کردن این فیلد الزامی است."
    assert tree.by_id("capabilities-error").text == "دست‌کم یک قابلیت را انتخاب کنید."
    assert tree.by_id("name").get("aria-invalid") == "true"
    assert _db.session.scalar(select(AIModel).where(AIModel.name == "has space")) is None


def test_create_with_activation_previews_then_confirms(login_as, catalogue):
    client = login_as("operator")
    data = {
        "csrf_token": form_token(client, "/models/new"),
        "provider": "openrouter",
        "name": "gpt-5",
        "model_id": "openai/gpt-5",
        "display_name": "GPT-5",
        "capabilities": ["chat", "code"],
        "activate": "y",
    }

    preview = client.post("/models/new?next=/models", data=data)

    assert preview.status_code == 200
    tree = parse(preview.data)
    items = [
        li.text
        for li in tree.find("section", class_="alert alert-warning conflict-preview").find_all("li")
    ]
    assert items == [
        "فعال کردن این مدل باعث غیرفعال شدن مدل Coder می‌شود",
        "فعال کردن این مدل باعث غیرفعال شدن مدل GPT-4o می‌شود",
    ]
    assert _db.session.scalar(select(AIModel).where(AIModel.name == "gpt-5")) is None
    confirmed = tree.find("input", name="confirmed").get("value")
    assert confirmed

    done = client.post("/models/new?next=/models", data=data | {"confirmed": confirmed})

    assert done.status_code == 302 and done.headers["Location"] == "/models"
    model = _db.session.scalar(select(AIModel).where(AIModel.name == "gpt-5"))
    assert model.active_capabilities == ["chat", "code"]
    page = body(client.get("/models"))
    assert "مدل فعال شد" in page and "۲ مدل دیگر غیرفعال شد" in page


def test_edit_then_activate_says_model_updated_with_the_count(login_as, catalogue):
    client = login_as("operator")
    claude = catalogue["claude"]
    path = f"/models/{claude.id}/edit"
    data = {
        "csrf_token": form_token(client, path),
        "name": "claude-3.5",
        "model_id": "anthropic/claude-3.5",
        "display_name": "Claude 3.5",
        "capabilities": ["chat", "code"],
        "activate": "y",
    }
    preview = client.post(path, data=data)
    confirmed = parse(preview.data).find("input", name="confirmed").get("value")

    done = client.post(
        path + "?next=/models%3Fprovider%3Dopenrouter", data=data | {"confirmed": confirmed}
    )

    assert done.status_code == 302
    assert done.headers["Location"] == "/models?provider=openrouter"
    assert "مدل به‌روزرسانی شد. ۲ مدل دیگر غیرفعال شد" in body(client.get("/models"))
    assert (claude.id, "chat") in state() and (claude.id, "code") in state()


def test_delete_needs_confirmation_and_the_token(login_as, catalogue):
    client = login_as("operator")
    gpt = catalogue["gpt"]
    path = f"/models/{gpt.id}/delete"
    page = client.get(path)
    assert page.status_code == 200 and "بله، حذف شود" in body(page)
    assert _db.session.get(AIModel, gpt.id) is not None

    refused = client.post(path, data={})
    assert refused.status_code == 400
    _db.session.rollback()
    assert _db.session.get(AIModel, gpt.id) is not None

    done = client.post(path, data={"csrf_token": form_token(client, path)})
    assert done.status_code == 302
    _db.session.rollback()
    assert _db.session.get(AIModel, gpt.id) is None
    assert "مدل GPT-4o حذف شد." in body(client.get("/models"))


def test_forms_are_refused_to_a_viewer(login_as, catalogue):
    viewer = login_as("viewer")
    for path in (
        "/models/new",
        f"/models/{catalogue['gpt'].id}/edit",
        f"/models/{catalogue['gpt'].id}/delete",
    ):
        response = viewer.get(path)
        assert response.status_code == 403
        assert "اجازهٔ انجام این کار را ندارید." in body(response)


# --- error pages and language ---------------------------------------------------------


def test_error_pages_are_persian_in_the_layout(login_as, app):
    client = login_as("operator")
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    tree = parse(missing.data)
    assert tree.find("html").get("dir") == "rtl"
    assert tree.find("h1").text == "صفحه پیدا نشد"
    assert tree.find("nav") is not None  # the same layout

    fragment = client.get("/no-such-page", headers={"HX-Request": "true"})
    assert fragment.status_code == 404
    assert "<html" not in body(fragment) and "data-flash" in body(fragment)

    not_allowed = client.delete(
        "/models", headers={"X-CSRFToken": support.csrf_token(client, "/models")}
    )
    assert not_allowed.status_code == 405 and "مجاز نیست" in body(not_allowed)

    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert "error-page" not in body(api), "API errors are left to the API's handlers"


def test_server_error_page(app_factory, make_admin):
    app = app_factory()

    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    with app.app_context():
        response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert "مشکلی پیش آمد" in body(response)
    assert "RuntimeError" not in body(response)


def test_language_switch_is_remembered(login_as):
    client = login_as("operator")
    token = support.csrf_token(client, "/models")
    response = client.post(
        "/language", data={"lang": "en", "next": "/models?capability=chat", "csrf_token": token}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/models?capability=chat"
    assert "lang=en" in response.headers["Set-Cookie"]
    html = parse(client.get("/models").data).find("html")
    assert (html.get("lang"), html.get("dir")) == ("en", "ltr")

    evil = client.post(
        "/language", data={"lang": "xx", "next": "//evil.example/", "csrf_token": token}
    )
    assert evil.headers["Location"] == "/"
    assert parse(client.get("/models").data).find("html").get("dir") == "rtl"


def test_language_switch_needs_the_token(client):
    response = client.post("/language", data={"lang": "en"})
    assert response.status_code == 400
    assert "lang=en" not in response.headers.get("Set-Cookie", "")


def test_form_live_preview_names_the_models_saving_would_deactivate(login_as, catalogue):
    client = login_as("operator")
    claude = catalogue["claude"]

    response = client.get(
        "/models/preview?provider=openrouter&capabilities=chat&capabilities=code&activate=y",
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    items = [li.text for li in parse(response.data).find_all("li")]
    assert items == [
        "فعال کردن این مدل باعث غیرفعال شدن مدل Coder می‌شود",
        "فعال کردن این مدل باعث غیرفعال شدن مدل GPT-4o می‌شود",
    ]
    # Editing: the model itself never conflicts with itself; its provider is its own.
    own = client.get(f"/models/preview?model={catalogue['coder'].id}&capabilities=code&activate=y")
    assert "هیچ مدل دیگری غیرفعال نمی‌شود." in body(own)
    quiet = client.get("/models/preview?provider=openrouter&capabilities=chat")
    assert quiet.status_code == 200 and "<li>" not in body(quiet)
    garbage = client.get("/models/preview?provider=nope&capabilities=x&activate=y&model=zz")
    assert garbage.status_code == 200 and "<li>" not in body(garbage)
    assert (claude.id, "chat") not in state()


def test_edit_maps_service_errors_onto_fields(login_as, catalogue):
    client = login_as("operator")
    claude = catalogue["claude"]
    path = f"/models/{claude.id}/edit"
    response = client.post(
        path,
        data={
            "csrf_token": form_token(client, path),
            "name": "gpt-4o",  # taken by another model of the provider
            "model_id": "anthropic/claude-3.5",
            "display_name": "Claude",
            "capabilities": ["chat"],
        },
    )
    assert response.status_code == 400
    tree = parse(response.data)
    assert tree.by_id("name-error").text == "این ارائه‌دهنده از قبل مدلی با این نام دارد."
    assert "Claude 3.5 Sonnet" in tree.find("h1").text  # unchanged in the database
    _db.session.rollback()
    assert _db.session.get(AIModel, claude.id).capabilities == ["chat", "code"]


def test_csrf_header_for_htmx_is_on_the_body(login_as):
    page = body(login_as("viewer").get("/models"))
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
    assert f"""hx-headers='{{"X-CSRFToken": "{token}"}}'""" in page
