"""The models page in a real browser, by keyboard and at scale: a model three places
away reached with the keyboard alone, undo from the toast, search at 466 models showing
only its matches, the compact view opening a group in place, "/" and the go-to-group
list; axe clean on each screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.checks import assert_accessible
from webapp.extensions import db as _db
from webapp.models import AIModel, ModelCapability, Provider

pytestmark = pytest.mark.e2e

CAPS = ("chat", "code", "image", "vision")


def active_in(fresh_db, provider_id: int, capability: str) -> int | None:
    session = fresh_db()
    row = session.query(ModelCapability).filter_by(
        provider_id=provider_id, capability=capability, is_active=True
    )
    found = row.one_or_none()
    return found.model_id if found else None


@pytest.fixture
def ten(make_provider, make_model):
    """One group of ten chat models, the first one live."""
    p = make_provider("tenfold", name="Tenfold")
    models = [
        make_model(p, f"m-{i}", caps=["chat"], active=i == 0, display_name=f"Model {i}")
        for i in range(10)
    ]
    return p, models


@pytest.fixture
def big(app):
    """466 models in 31 groups (8 providers × 4 capabilities, one group missing), each
    group's first model live; six models named qwen2.5-72b-… spread over three groups."""
    providers = [
        Provider(slug=f"p{i}", name=f"Provider {i}", base_url=f"https://p{i}.example.invalid/v1")
        for i in range(8)
    ]
    _db.session.add_all(providers)
    _db.session.flush()
    groups = [(p, cap) for p in providers for cap in CAPS][:31]
    qwen = 0
    for n in range(466):
        provider, cap = groups[n % len(groups)]
        name = f"model-{n:03d}"
        if n >= len(groups) and n % len(groups) in (0, 5, 9) and qwen < 6:
            name, qwen = f"qwen2.5-72b-{qwen}", qwen + 1
        model = AIModel(provider_id=provider.id, name=name, model_id=f"v/{name}", display_name=name)
        model.capability_rows.append(
            ModelCapability(capability=cap, provider_id=provider.id, is_active=n < len(groups))
        )
        _db.session.add(model)
    _db.session.commit()
    return groups


def test_keyboard_alone_reaches_a_model_three_places_away(
    page, live_server, sign_in, ten, fresh_db
):
    p, models = ten
    sign_in("operator")
    group = page.locator(f"#group-{p.id}-chat")
    page.locator("#filter-q").focus()
    # From the search field: the go-to-group list is absent (one group), so a few Tabs.
    presses = 0
    while not page.evaluate("document.activeElement.type === 'radio'") and presses < 15:
        page.keyboard.press("Tab")
        presses += 1
    assert presses <= 6, f"{presses} Tab presses to reach the group"
    expect(page.locator(f"#group-{p.id}-chat-{models[0].id}")).to_be_focused()
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    target = page.locator(f"#group-{p.id}-chat-{models[3].id}")
    expect(target).to_be_focused()
    expect(page.locator("dialog.confirm-dialog")).to_have_count(0)
    assert active_in(fresh_db, p.id, "chat") == models[0].id  # arrows post nothing
    page.keyboard.press("Enter")
    dialog = page.locator("dialog.confirm-dialog")
    expect(dialog).to_contain_text("Tenfold")  # the dialog names the provider
    page.keyboard.press("Enter")
    expect(target).to_be_checked()
    expect(target).to_be_focused()
    assert active_in(fresh_db, p.id, "chat") == models[3].id
    # One tab stop for the radios: Tab leaves them at once, for the group's own links
    # (its traffic policies and history) and its edit menu, still inside the group.
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "[document.activeElement.type, document.activeElement.closest('fieldset') !== null]"
    )
    assert focused[0] != "radio" and focused[1], focused
    expect(group.locator("a.edit-link").first).to_have_attribute("tabindex", "-1")


def test_undo_switches_back_from_the_toast(page, live_server, sign_in, ten, fresh_db):
    p, models = ten
    sign_in("operator")
    page.locator(f"label[for=group-{p.id}-chat-{models[2].id}]").click()
    page.locator("dialog.confirm-dialog").get_by_role("button", name="تأیید").click()
    toast = page.locator("#flash-status [data-switch-toast]")
    expect(toast).to_contain_text("مدل فعال شد")
    expect(toast).to_contain_text("۱ مدل دیگر غیرفعال شد")
    expect(toast).to_contain_text("Model 2")
    expect(toast).to_contain_text("Model 0")
    expect(toast).to_contain_text("Tenfold")
    assert_accessible(page, "the models page with the switch toast")
    assert active_in(fresh_db, p.id, "chat") == models[2].id

    toast.get_by_role("button", name="برگرداندن").click()
    first = page.locator(f"#group-{p.id}-chat-{models[0].id}")
    expect(first).to_be_checked()
    expect(first).to_be_focused()
    expect(page.locator("#flash-status")).to_contain_text("Model 0")
    assert active_in(fresh_db, p.id, "chat") == models[0].id


def test_search_at_466_models_shows_only_the_matches(page, live_server, sign_in, big):
    sign_in("operator")
    # 466 models: the compact view, one line per group and no radio on the first screen.
    expect(page.locator(".model-group-line")).to_have_count(31)
    expect(page.locator("input[type=radio]")).to_have_count(0)
    assert_accessible(page, "the compact models page")

    page.keyboard.press("/")
    expect(page.locator("#filter-q")).to_be_focused()
    page.keyboard.type("qwen2.5-72b")
    page.keyboard.press("Enter")
    expect(page.locator("#found-count")).to_have_text("۶ مدل پیدا شد")
    expect(page.locator(".model-option.is-match")).to_have_count(6)
    # Each of the three groups: its two matches, the live model, «هیچ‌کدام».
    expect(page.locator("input[type=radio]")).to_have_count(3 * 4)
    focused = page.evaluate(
        "document.activeElement.closest('.model-option').classList.contains('is-match')"
    )
    assert focused, "focus is not on the first match"
    assert_accessible(page, "the models page searched")


def test_compact_view_opens_a_group_in_place(page, live_server, sign_in, big, fresh_db):
    sign_in("operator")
    provider, cap = big[1]
    page.evaluate("window.__marker = 1")
    line = page.locator(f"#group-{provider.id}-{cap}")
    line.locator("button.group-open").click()
    group = page.locator(f"form#group-{provider.id}-{cap}")
    expect(group.locator("fieldset legend")).to_contain_text("Provider 0")
    expect(group.locator("input[type=radio]")).to_have_count(16)  # 15 models + «هیچ‌کدام»
    expect(group.locator("input[type=radio]:checked")).to_be_focused()
    assert page.evaluate("window.__marker") == 1, "the page reloaded"

    # The go-to-group list opens another group and moves focus into it.
    other_provider, other_cap = big[7]
    page.select_option("#goto-group", f"group-{other_provider.id}-{other_cap}")
    other = page.locator(f"form#group-{other_provider.id}-{other_cap}")
    expect(other.locator("input[type=radio]:checked")).to_be_focused()
    assert_accessible(page, "the compact models page with two groups open")


@pytest.fixture
def crowd(app):
    """24 providers of three chat models each (the first live): three pages of providers."""
    for i in range(24):
        provider = Provider(
            slug=f"c{i:02d}", name=f"Crowd {i:02d}", base_url=f"https://c{i}.example.invalid/v1"
        )
        _db.session.add(provider)
        _db.session.flush()
        for j in range(3):
            name = f"c{i}-{j}"
            model = AIModel(
                provider_id=provider.id, name=name, model_id=f"c/{name}", display_name=name
            )
            model.capability_rows.append(
                ModelCapability(capability="chat", provider_id=provider.id, is_active=j == 0)
            )
            _db.session.add(model)
    _db.session.commit()


def test_pages_of_providers_turn_in_place(page, live_server, sign_in, crowd):
    sign_in("viewer")
    headings = page.locator("#model-results h2")
    expect(headings).to_have_count(10)
    expect(headings.first).to_have_text("Crowd 00")
    page.evaluate("window.__marker = 1")
    page.locator("#provider-pages").get_by_role("link", name="بعدی").click()
    expect(headings.first).to_have_text("Crowd 10")
    expect(page.locator("#provider-pages [aria-current=page]")).to_have_text("صفحهٔ ۲ از ۳")
    assert page.url.endswith("/models?page=2")
    assert page.evaluate("window.__marker") == 1, "the page reloaded"
    assert_accessible(page, "the second page of providers")
    page.go_back()
    expect(headings.first).to_have_text("Crowd 00")


def test_model_list_bulk_disable_through_the_confirmation(
    page, live_server, sign_in, ten, fresh_db
):
    p, models = ten
    sign_in("operator")
    page.goto(live_server("/models/list?sort=name&order=desc"))
    assert_accessible(page, "the model list")
    page.check(f"#select-{models[0].id}")
    page.check(f"#select-{models[1].id}")
    page.select_option("#bulk-action", "disable")
    page.get_by_role("button", name="انجام", exact=True).click()
    expect(page.locator("#bulk-models li")).to_have_count(2)
    assert active_in(fresh_db, p.id, "chat") == models[0].id  # nothing before «بله»
    assert_accessible(page, "the bulk confirmation page")
    page.get_by_role("button", name="بله، انجام شود").click()
    expect(page.locator("#flash-status")).to_contain_text("۱ مدل از کار خارج شد")
    assert page.url.endswith("/models/list?order=desc")  # back where it was (name: the default)
    assert active_in(fresh_db, p.id, "chat") is None

    # The heading's box selects every row of the page.
    page.check("#select-all")
    expect(page.locator("input[name=ids]:checked")).to_have_count(10)
