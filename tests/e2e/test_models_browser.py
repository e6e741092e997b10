"""The models page in a real browser: switch, confirm, cancel, keyboard, viewer, language."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from webapp.models import AIModel

pytestmark = pytest.mark.e2e


@pytest.fixture
def catalogue(make_provider, make_model):
    """OpenRouter: GPT-4o live for chat, Claude waiting; a code group alongside."""
    openrouter = make_provider("openrouter", name="OpenRouter")
    gpt = make_model(openrouter, "gpt-4o", caps=["chat"], active=True, display_name="GPT-4o")
    claude = make_model(
        openrouter, "claude-3.5", caps=["chat", "code"], display_name="Claude 3.5 Sonnet"
    )
    coder = make_model(openrouter, "coder", caps=["code"], active=True, display_name="Coder")
    return {"provider": openrouter, "gpt": gpt, "claude": claude, "coder": coder}


def radio(page, provider, cap, model=None):
    suffix = model.id if model is not None else "none"
    return page.locator(f"#group-{provider.id}-{cap}-{suffix}")


def active_caps(fresh_db, model) -> list[str]:
    return fresh_db().get(AIModel, model.id).active_capabilities


def assert_chat_live(fresh_db, live, idle) -> None:
    """In the database, ``live`` is live for chat and ``idle`` is live nowhere."""
    assert active_caps(fresh_db, live) == ["chat"]
    assert active_caps(fresh_db, idle) == []


def test_switch_with_confirmation_no_reload(page, live_server, sign_in, catalogue, fresh_db):
    p, gpt, claude = catalogue["provider"], catalogue["gpt"], catalogue["claude"]
    sign_in("operator")
    page.evaluate("window.__marker = 1")

    page.locator(f"label[for=group-{p.id}-chat-{claude.id}]").click()

    dialog = page.locator("dialog.confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("فعال کردن این مدل باعث غیرفعال شدن مدل GPT-4o می‌شود")
    expect(dialog.get_by_role("button", name="تأیید")).to_be_focused()
    assert active_caps(fresh_db, gpt) == ["chat"]  # nothing written before confirming

    dialog.get_by_role("button", name="تأیید").click()

    status = page.locator("#flash-status[role=status]")
    expect(status).to_contain_text("مدل فعال شد")
    expect(status).to_contain_text("۱ مدل دیگر غیرفعال شد")
    expect(dialog).to_have_count(0)
    expect(radio(page, p, "chat", claude)).to_be_checked()
    assert page.evaluate("window.__marker") == 1, "the page reloaded"
    assert_chat_live(fresh_db, claude, gpt)
    # The code group was not touched: Coder still live there.
    expect(radio(page, p, "code", catalogue["coder"])).to_be_checked()


def test_cancel_restores_the_radio_and_writes_nothing(
    page, live_server, sign_in, catalogue, fresh_db
):
    p, gpt, claude = catalogue["provider"], catalogue["gpt"], catalogue["claude"]
    sign_in("operator")
    page.locator(f"label[for=group-{p.id}-chat-{claude.id}]").click()
    dialog = page.locator("dialog.confirm-dialog")
    expect(dialog).to_be_visible()

    dialog.get_by_role("button", name="انصراف").click()

    expect(dialog).to_have_count(0)
    expect(radio(page, p, "chat", gpt)).to_be_checked()
    expect(radio(page, p, "chat", claude)).not_to_be_checked()
    assert_chat_live(fresh_db, gpt, claude)


def test_keyboard_alone_switches_and_escape_cancels(
    page, live_server, sign_in, catalogue, fresh_db
):
    p, gpt, claude = catalogue["provider"], catalogue["gpt"], catalogue["claude"]
    sign_in("operator")
    page.locator("body").focus()
    target_group = f"group-{p.id}-chat"
    for _ in range(80):
        page.keyboard.press("Tab")
        in_group = page.evaluate(
            "g => !!document.activeElement.closest('#' + g) "
            "&& document.activeElement.type === 'radio'",
            target_group,
        )
        if in_group:
            break
    else:
        pytest.fail("Tab never reached the chat group's radios")
    expect(radio(page, p, "chat", gpt)).to_be_focused()  # Tab lands on the checked radio

    # Claude comes before GPT-4o (display-name order): the previous radio. An arrow key
    # only moves the selection: nothing is posted until Enter, Space or «اعمال».
    page.keyboard.press("ArrowUp")
    dialog = page.locator("dialog.confirm-dialog")
    apply = page.locator(f"#{target_group} [data-apply]")
    expect(apply).to_be_visible()
    expect(radio(page, p, "chat", claude)).to_be_focused()
    expect(dialog).to_have_count(0)
    assert active_caps(fresh_db, gpt) == ["chat"]
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="تأیید")).to_be_focused()

    page.keyboard.press("Escape")  # = cancel
    expect(dialog).to_have_count(0)
    expect(radio(page, p, "chat", gpt)).to_be_checked()
    expect(radio(page, p, "chat", gpt)).to_be_focused()
    expect(apply).to_be_hidden()
    assert active_caps(fresh_db, gpt) == ["chat"]

    page.keyboard.press("ArrowUp")
    expect(dialog).to_have_count(0)
    page.keyboard.press(" ")
    expect(dialog).to_be_visible()
    page.keyboard.press("Enter")  # the focused «تأیید»

    expect(page.locator("#flash-status")).to_contain_text("۱ مدل دیگر غیرفعال شد")
    expect(radio(page, p, "chat", claude)).to_be_checked()
    expect(radio(page, p, "chat", claude)).to_be_focused()
    assert_chat_live(fresh_db, claude, gpt)


def test_none_choice_asks_first_and_a_free_group_needs_no_dialog(
    page, live_server, sign_in, catalogue, fresh_db
):
    p, gpt = catalogue["provider"], catalogue["gpt"]
    sign_in("operator")
    page.locator(f"label[for=group-{p.id}-chat-none]").click()
    dialog = page.locator("dialog.confirm-dialog")
    expect(dialog).to_contain_text("GPT-4o")
    expect(dialog).to_contain_text("OpenRouter")
    assert active_caps(fresh_db, gpt) == ["chat"]  # nothing written before confirming
    dialog.get_by_role("button", name="تأیید").click()
    expect(page.locator("#flash-status")).to_contain_text("مدل غیرفعال شد")
    expect(page.locator("#flash-status")).to_contain_text("GPT-4o")
    expect(page.locator(f"#group-{p.id}-chat")).to_contain_text("هیچ مدل فعالی")
    assert active_caps(fresh_db, gpt) == []

    page.locator(f"label[for=group-{p.id}-chat-{gpt.id}]").click()  # empty group: no dialog
    expect(page.locator("#flash-status")).to_contain_text("مدل فعال شد")
    expect(page.locator("dialog")).to_have_count(0)
    assert active_caps(fresh_db, gpt) == ["chat"]


def test_failed_request_shows_the_server_message(page, live_server, sign_in, catalogue, fresh_db):
    from webapp.operations import catalog

    p, claude = catalogue["provider"], catalogue["claude"]
    sign_in("operator")
    catalog.delete_model(claude.id, actor="test")  # another admin deletes it meanwhile

    page.locator(f"label[for=group-{p.id}-chat-{claude.id}]").click()

    alert = page.locator("#flash-alert[role=alert]")
    expect(alert).to_contain_text("مدل پیدا نشد.")
    expect(radio(page, p, "chat", catalogue["gpt"])).to_be_checked()  # selection restored


def test_viewer_cannot_switch(page, live_server, sign_in, catalogue, fresh_db):
    p, gpt, claude = catalogue["provider"], catalogue["gpt"], catalogue["claude"]
    sign_in("viewer")
    claude_radio = radio(page, p, "chat", claude)
    expect(claude_radio).to_be_disabled()
    expect(radio(page, p, "chat", gpt)).to_be_checked()
    page.locator(f"label[for=group-{p.id}-chat-{claude.id}]").click(force=True)
    expect(claude_radio).not_to_be_checked()
    # Even a hand-made request is refused.
    status = page.evaluate(
        """async ([pid, mid]) => {
            const token = document.querySelector('meta[name=csrf-token]').content;
            const body = new URLSearchParams({provider: pid, capability: 'chat', model: mid,
                                              confirm: '1'});
            const r = await fetch('/models/choose', {method: 'POST', body,
                headers: {'X-CSRFToken': token, 'HX-Request': 'true'}});
            return r.status;
        }""",
        [str(p.id), str(claude.id)],
    )
    assert status == 403
    assert_chat_live(fresh_db, gpt, claude)


def test_english_switch_turns_the_page_left_to_right(page, live_server, sign_in, catalogue):
    sign_in("operator")
    html = page.locator("html")
    expect(html).to_have_attribute("dir", "rtl")
    expect(html).to_have_attribute("lang", "fa")

    page.get_by_role("button", name="English").click()

    expect(html).to_have_attribute("dir", "ltr")
    expect(html).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Active models")
    page.goto(live_server("/models"))  # remembered
    expect(html).to_have_attribute("dir", "ltr")
    page.get_by_role("button", name="فارسی").click()
    expect(html).to_have_attribute("dir", "rtl")


def test_filters_apply_without_reload_and_survive_in_the_url(page, live_server, sign_in, catalogue):
    p = catalogue["provider"]
    sign_in("operator")
    page.evaluate("window.__marker = 1")
    page.select_option("#filter-capability", "code")
    expect(page.locator(f"#group-{p.id}-chat")).to_have_count(0)
    expect(page.locator(f"#group-{p.id}-code")).to_be_visible()
    expect(page).to_have_url(re.compile(r"capability=code"))
    page.fill("#filter-q", "zzz-nothing")
    expect(page.locator("#model-results")).to_contain_text("هیچ موردی با این فیلترها پیدا نشد.")
    assert page.evaluate("window.__marker") == 1


def test_model_form_previews_deactivations_live(page, live_server, sign_in, catalogue):
    sign_in("operator")
    page.goto(live_server("/models/new?provider=openrouter"))
    page.check("input[name=capabilities][value=chat]")
    page.check("#activate")
    preview = page.locator("#activation-preview")
    expect(preview).to_contain_text("فعال کردن این مدل باعث غیرفعال شدن مدل GPT-4o می‌شود")
    page.uncheck("input[name=capabilities][value=chat]")
    page.check("input[name=capabilities][value=speech]")
    expect(preview).to_contain_text("هیچ مدل دیگری غیرفعال نمی‌شود.")


def test_a_groups_actions_are_one_tab_stop_moved_through_with_arrows(
    page, live_server, sign_in, catalogue
):
    """A group is its radios and one toolbar of actions (policies, history, the edit
    menu): two Tab presses from one group's choice to the next group's, whatever the
    number of models; inside the toolbar the arrows move (right to left: ArrowLeft is the
    next one), Home and End jump, and the edit menu opens into its links."""
    p, gpt, coder = catalogue["provider"], catalogue["gpt"], catalogue["coder"]
    sign_in("operator")
    radio(page, p, "chat", gpt).focus()
    bar = page.locator(f"#policies-group-{p.id}-chat [role=toolbar]")
    expect(bar).to_have_attribute("aria-label", re.compile("کارهای این گروه"))
    items = bar.locator("a.btn")
    assert items.count() >= 4
    page.keyboard.press("Tab")
    expect(items.nth(0)).to_be_focused()
    page.keyboard.press("Tab")
    expect(radio(page, p, "code", coder)).to_be_focused()

    page.keyboard.press("Shift+Tab")
    expect(items.nth(0)).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(items.nth(1)).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(items.nth(0)).to_be_focused()
    page.keyboard.press("End")
    menu = bar.locator(".group-edit-menu > summary")
    expect(menu).to_be_focused()
    # Tab leaves from wherever the arrows left it, and comes back to the same item.
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    expect(menu).to_be_focused()
    page.keyboard.press("Enter")  # opens the menu: its links join the arrows' round
    page.keyboard.press("ArrowLeft")
    expect(bar.locator(".group-edit-menu a").first).to_be_focused()
    page.keyboard.press("Home")
    expect(items.nth(0)).to_be_focused()
    history = bar.locator("[data-group-history]")
    for _ in range(items.count() - 1):
        page.keyboard.press("ArrowLeft")
    expect(history).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/history\?provider=openrouter&capability=chat"))
