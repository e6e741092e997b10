"""The models page at scale and after a switch: search that filters models, the compact
view and its group fragment, the empty-groups filter, the summary updated out of band,
the toast in words with its undo (refused once the group changed), and one tab stop
per group."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests import support
from tests.html_tree import parse
from webapp.extensions import db as _db
from webapp.models import AuditEvent
from webapp.queries.groups import COMPACT_LIMIT

pytestmark = pytest.mark.usefixtures("fresh_g_per_request")
state = support.active_pairs
post_choose = support.choose_on_models_page


@pytest.fixture
def catalogue(two_providers, make_model):
    mini = make_model(two_providers["p"], "gpt-4o-mini", caps=["chat"], display_name="GPT-4o mini")
    return two_providers | {"mini": mini}


def radios(tree, group_id: str) -> list[str]:
    form = tree.by_id(group_id)
    return [i.get("id") for i in form.find_all("input", type="radio")]


# --- search filters models ------------------------------------------------------------


def test_search_shows_only_matching_models_plus_the_live_one(login_as, catalogue):
    client = login_as("operator")
    p, gpt, claude, mini = (catalogue[k] for k in ("p", "gpt", "claude", "mini"))
    tree = parse(client.get("/models?q=mini").data)
    chat = f"group-{p.id}-chat"
    # The match and the live model (context) and «هیچ‌کدام»; Claude is not shown.
    assert radios(tree, chat) == [f"{chat}-{gpt.id}", f"{chat}-{mini.id}", f"{chat}-none"]
    assert f"{chat}-{claude.id}" not in radios(tree, chat)
    assert tree.by_id("found-count").text.strip() == "۱ مدل پیدا شد"
    matched = [li for li in tree.by_id(chat).find_all("li", class_="is-match")]
    assert len(matched) == 1 and "GPT-4o mini" in matched[0].text
    # Two models in two groups count once each.
    tree = parse(client.get("/models?q=claude").data)
    assert tree.by_id("found-count").text.strip() == "۱ مدل پیدا شد"
    tree = parse(client.get("/models?q=gpt").data)
    assert tree.by_id("found-count").text.strip() == "۲ مدل پیدا شد"


# --- the compact view -----------------------------------------------------------------


@pytest.fixture
def large(make_provider, make_model):
    """Two providers, COMPACT_LIMIT + 2 models in all: past the compact threshold."""
    a = make_provider("big-a", name="Big A")
    b = make_provider("big-b", name="Big B")
    half = COMPACT_LIMIT // 2 + 1
    models = [make_model(a, f"a-{i}", caps=["chat"], active=i == 0) for i in range(half)]
    models += [make_model(b, f"b-{i}", caps=["code"]) for i in range(half)]
    return {"a": a, "b": b, "models": models}


def test_small_catalogue_keeps_its_groups_open(login_as, catalogue):
    tree = parse(login_as("operator").get("/models").data)
    assert not tree.find_all("div", class_="model-group-line")
    assert tree.find_all("input", type="radio")


def test_large_catalogue_collapses_groups_and_opens_one_in_place(login_as, large):
    client = login_as("operator")
    tree = parse(client.get("/models").data)
    assert not tree.find_all("input", type="radio")  # no radios on the first screen
    line = tree.by_id(f"group-{large['a'].id}-chat")
    assert "model-group-line" in line.get("class")
    assert (
        "A 0" in line.text
        and f"{COMPACT_LIMIT // 2 + 1:d}".translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
        in line.text
    )
    url = line.find("button").get("hx-get")
    assert url == f"/models/groups/{large['a'].id}/chat"

    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    opened = parse(fragment.data)
    form = opened.by_id(f"group-{large['a'].id}-chat")
    assert form.tag == "form" and form.find("fieldset").find("legend")
    assert len(form.find_all("input", type="radio")) == COMPACT_LIMIT // 2 + 2
    assert "<html" not in fragment.get_data(as_text=True)


def test_group_fragment_refuses_unknown_groups(login_as, large):
    client = login_as("viewer")
    assert client.get(f"/models/groups/{large['a'].id}/telepathy").status_code == 404
    assert client.get(f"/models/groups/{large['a'].id}/image").status_code == 404
    assert client.get("/models/groups/999999/chat").status_code == 404
    # A viewer may open a group: read-only radios.
    opened = parse(client.get(f"/models/groups/{large['a'].id}/chat").data)
    assert all(i.has("disabled") for i in opened.find_all("input", type="radio"))


def test_a_filter_that_leaves_one_group_opens_it(login_as, large):
    client = login_as("operator")
    tree = parse(client.get("/models?provider=big-a").data)
    form = tree.by_id(f"group-{large['a'].id}-chat")
    assert form.tag == "form" and form.find_all("input", type="radio")


@pytest.fixture
def many(make_provider, make_model):
    """23 providers of 3 chat models each: past the compact threshold, three pages."""
    providers = [make_provider(f"prov-{i:02d}", name=f"Prov {i:02d}") for i in range(23)]
    for provider in providers:
        for j in range(3):
            make_model(provider, f"{provider.slug}-m{j}", caps=["chat"], active=j == 0)
    return providers


def shown_providers(tree) -> list[str]:
    return [h.text.strip() for h in tree.find_all("h2") if h.get("id", "").startswith("provider-")]


def pager(tree):
    nav = tree.by_id("provider-pages")
    links = {a.text.strip(): a.get("href") for a in nav.find_all("a")} if nav else {}
    return nav, links


def test_compact_view_shows_ten_providers_a_page(login_as, many):
    client = login_as("viewer")
    tree = parse(client.get("/models").data)
    assert shown_providers(tree) == [f"Prov {i:02d}" for i in range(10)]
    nav, links = pager(tree)
    assert nav.find(aria_current="page").text.strip() == "صفحهٔ ۱ از ۳"
    assert links == {"بعدی": "/models?page=2"}
    # Every provider stays in the filter's list, whatever the page.
    options = tree.by_id("filter-provider").find_all("option")
    assert len(options) == 1 + 23

    tree = parse(client.get("/models?page=3").data)
    assert shown_providers(tree) == [f"Prov {i:02d}" for i in range(20, 23)]
    nav, links = pager(tree)
    assert nav.find(aria_current="page").text.strip() == "صفحهٔ ۳ از ۳"
    assert links == {"قبلی": "/models?page=2"}


def test_a_page_out_of_range_or_malformed_shows_the_nearest(login_as, many):
    client = login_as("viewer")
    for query, first in (
        ("page=99", "Prov 20"),
        ("page=0", "Prov 00"),
        ("page=abc", "Prov 00"),
        ("page=%DB%B2", "Prov 00"),
        ("page=-1", "Prov 00"),
    ):
        response = client.get(f"/models?{query}")
        assert response.status_code == 200, query
        assert shown_providers(parse(response.data))[0] == first, query


def test_pages_keep_the_filters_and_a_filter_starts_at_the_first(login_as, many):
    client = login_as("viewer")
    tree = parse(client.get("/models?capability=chat&page=2").data)
    assert shown_providers(tree)[0] == "Prov 10"
    _, links = pager(tree)
    assert links == {
        "قبلی": "/models?page=1&capability=chat",
        "بعدی": "/models?page=3&capability=chat",
    }
    # The page through htmx: the results block alone, its pager inside it.
    response = client.get(
        "/models?page=2", headers={"HX-Request": "true", "HX-Target": "model-results"}
    )
    part = parse(response.data)
    assert "<html" not in response.get_data(as_text=True)
    assert part.by_id("model-results").find(id="provider-pages")
    assert shown_providers(part)[0] == "Prov 10"
    # One provider's three models: its group open, no pager.
    tree = parse(client.get("/models?provider=prov-15&page=2").data)
    assert shown_providers(tree) == ["Prov 15"]
    assert tree.by_id("provider-pages") is None
    assert tree.find_all("input", type="radio")


def test_empty_groups_link_filters_to_those_groups(login_as, catalogue):
    client = login_as("operator")
    tree = parse(client.get("/models").data)
    link = tree.by_id("model-totals").find("a", class_="stat-link")
    assert link.get("href") == "/models?state=empty"
    assert "۲" in link.text  # code (Claude, none live) and image (SDXL, none live)
    tree = parse(client.get(link.get("href")).data)
    ids = {f.get("id") for f in tree.find_all("form") if (f.get("id") or "").startswith("group-")}
    p, other = catalogue["p"], catalogue["other"]
    assert ids == {f"group-{p.id}-code", f"group-{other.id}-image"}


# --- after a switch: the summary, the toast, the undo -----------------------------------


def test_switch_answers_with_totals_out_of_band_and_a_toast_in_words(login_as, catalogue):
    client = login_as("operator")
    p, gpt, claude = catalogue["p"], catalogue["gpt"], catalogue["claude"]
    response = post_choose(client, {"provider": p.id, "capability": "code", "model": claude.id})
    tree = parse(response.data)
    totals = tree.by_id("model-totals")
    assert totals.get("hx-swap-oob") == "true"
    assert "۱" in totals.find("a").text  # one empty group left (image)
    toast = tree.by_id("flash-status").find("div", class_="switch-toast")
    text = toast.text
    assert "مدل فعال شد" in text and "Claude 3.5 Sonnet" in text and "OpenRouter" in text
    assert "برگرداندن" in text

    # A conflicting switch names the model that lost the group and the seed's count.
    response = post_choose(
        client, {"provider": p.id, "capability": "chat", "model": claude.id, "confirm": "1"}
    )
    replaced = parse(response.data)
    toast = replaced.by_id("flash-status")
    assert "۱ مدل دیگر غیرفعال شد" in toast.text and "GPT-4o" in toast.text
    # One live model in place of another: no group emptied or filled, the summary stays.
    assert replaced.by_id("model-totals") is None
    undo = toast.find("form", class_="undo-form")
    fields = {i.get("name"): i.get("value") for i in undo.find_all("input")}
    assert fields["model"] == str(gpt.id) and fields["undo"].startswith(f"{claude.id}@")


def test_undo_switches_back_audited(login_as, catalogue):
    client = login_as("operator")
    p, gpt, claude = catalogue["p"], catalogue["gpt"], catalogue["claude"]
    response = post_choose(
        client, {"provider": p.id, "capability": "chat", "model": claude.id, "confirm": "1"}
    )
    undo = parse(response.data).by_id("flash-status").find("form", class_="undo-form")
    fields = {i.get("name"): i.get("value") for i in undo.find_all("input")}
    before = _db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))

    response = post_choose(client, fields)
    assert response.status_code == 200
    assert (gpt.id, "chat") in state() and (claude.id, "chat") not in state()
    actions = _db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.id > before).order_by(AuditEvent.id)
    ).all()
    assert actions == ["model.activate", "model.deactivate"]
    assert "GPT-4o" in parse(response.data).by_id("flash-status").text


def test_undo_of_a_clear_makes_the_model_live_again(login_as, catalogue):
    client = login_as("operator")
    p, gpt = catalogue["p"], catalogue["gpt"]
    response = post_choose(client, {"provider": p.id, "capability": "chat", "confirm": "1"})
    assert (gpt.id, "chat") not in state()
    toast = parse(response.data).by_id("flash-status")
    assert "GPT-4o" in toast.text and "OpenRouter" in toast.text
    fields = {i.get("name"): i.get("value") for i in toast.find("form").find_all("input")}
    assert fields["undo"] == "none" and fields["model"] == str(gpt.id)
    assert post_choose(client, fields).status_code == 200
    assert (gpt.id, "chat") in state()


def test_undo_is_refused_once_the_group_changed(login_as, catalogue):
    client = login_as("operator")
    p, gpt, claude, mini = (catalogue[k] for k in ("p", "gpt", "claude", "mini"))
    response = post_choose(
        client, {"provider": p.id, "capability": "chat", "model": claude.id, "confirm": "1"}
    )
    toast = parse(response.data).by_id("flash-status")
    fields = {i.get("name"): i.get("value") for i in toast.find("form").find_all("input")}
    # Someone else switches the group (and even back: the stamp still differs).
    other = login_as("operator")
    post_choose(other, {"provider": p.id, "capability": "chat", "model": mini.id, "confirm": "1"})
    post_choose(other, {"provider": p.id, "capability": "chat", "model": claude.id, "confirm": "1"})
    before = state()

    refused = post_choose(client, fields)
    assert refused.status_code == 409
    assert "دیگر نمی‌شود" in refused.get_data(as_text=True)
    assert state() == before and (gpt.id, "chat") not in before


def test_undo_with_a_forged_model_changes_nothing(login_as, catalogue):
    client = login_as("operator")
    p, sdxl = catalogue["p"], catalogue["sdxl"]
    before = state()
    response = post_choose(
        client,
        {"provider": p.id, "capability": "chat", "model": sdxl.id, "undo": "none"},
    )
    assert response.status_code == 400
    assert "این مدل متعلق به این ارائه‌دهنده نیست" in response.get_data(as_text=True)
    assert state() == before
    viewer = login_as("viewer")
    assert (
        post_choose(viewer, {"provider": p.id, "capability": "chat", "undo": "none"}).status_code
        == 403
    )


# --- keyboard: one tab stop per group -------------------------------------------------


def test_edit_links_are_out_of_the_tab_order_and_in_one_menu_per_group(login_as, catalogue):
    tree = parse(login_as("operator").get("/models").data)
    p = catalogue["p"]
    group = tree.by_id(f"group-{p.id}-chat")
    assert all(a.get("tabindex") == "-1" for a in group.find_all("a", class_="edit-link"))
    menu = group.find("details", class_="group-edit-menu")
    assert len(menu.find_all("a")) == 3
    goto = tree.by_id("goto-group")
    assert f"group-{p.id}-chat" in [o.get("value") for o in goto.find_all("option")]
    assert tree.by_id("filter-q").get("aria-keyshortcuts") == "/"


def test_dialog_names_the_provider(login_as, catalogue):
    client = login_as("operator")
    p, claude = catalogue["p"], catalogue["claude"]
    response = post_choose(client, {"provider": p.id, "capability": "chat", "model": claude.id})
    dialog = parse(response.data).find("dialog")
    assert "OpenRouter" in dialog.text and "Claude 3.5 Sonnet" in dialog.text


def test_compact_first_screen_loads_no_model_but_the_live_ones(login_as, large, make_model):
    from sqlalchemy import event

    client = login_as("operator")
    provider_b = large["b"].id

    def statements() -> list[str]:
        seen: list[str] = []

        def before(_conn, _cursor, statement, *_args):
            seen.append(statement)

        _db.session.remove()
        event.listen(_db.engine, "before_cursor_execute", before)
        try:
            assert client.get("/models").status_code == 200
        finally:
            event.remove(_db.engine, "before_cursor_execute", before)
        return seen

    client.get("/models")
    first = statements()
    for i in range(30):
        make_model(provider_b, f"more-{i}", caps=["image"], active=i == 0)
    second = statements()
    third = statements()
    assert len(second) <= 6
    # The groups are counted once after each change, then kept until the next one.
    counting = [s for s in second if "max(CASE" in s]
    assert len(counting) == 1
    assert not any("max(CASE" in s for s in first + third)
    assert len(first) == len(third) == len(second) - 1
    # No statement reads every model's row: the live ones are asked for by id.
    reads = [s for s in second if "FROM ai_model" in s and "count(" not in s]
    assert reads and all("IN (" in s or "WHERE ai_model.id IN" in s for s in reads), reads


def test_kept_group_counts_follow_a_change(login_as, large, make_model):
    client = login_as("operator")
    group = f"group-{large['b'].id}-image"
    assert parse(client.get("/models").data).by_id(group) is None
    make_model(large["b"], "painter", caps=["image"], active=True)
    line = parse(client.get("/models").data).by_id(group)
    assert line is not None and "Painter" in line.text
