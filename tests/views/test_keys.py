"""My keys: the personal key per provider, the shared-key choice, and which key a call
uses right now, for every case of the priority (DESIGN.md §2, the seed's scenario 3)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.support import field_error, text
from webapp import secrets
from webapp.extensions import db
from webapp.models import AdminProviderSettings
from webapp.operations import admins

SHARED_KEY = "sk-shared-0000aaaa"
PERSONAL_KEY = "sk-personal-9999zzzz"


def settings_of(admin, provider) -> AdminProviderSettings | None:
    db.session.expire_all()
    return db.session.scalar(
        select(AdminProviderSettings).where(
            AdminProviderSettings.admin_id == admin.id,
            AdminProviderSettings.provider_id == provider.id,
        )
    )


def source_shown(body: str, provider) -> tuple[str, str]:
    """The key source and the section text shown for ``provider``."""
    section = body.split(f'id="provider-{provider.id}"')[1].split("</section>")[0]
    source = re.search(r'data-key-source="(\w+)"', section).group(1)
    return source, section


# (role, personal key?, prefers shared?, shared key set?, shared allowed?) -> source, words
CASES = [
    ("viewer", True, False, True, True, "personal", "کلید شخصی شما استفاده می‌شود"),
    ("operator", True, True, True, True, "shared", "کلید مشترک سازمان"),
    ("operator", False, False, True, True, "shared", "کلید مشترک سازمان"),
    ("viewer", False, False, True, True, "none", "اجازهٔ استفاده از کلید مشترک را هم ندارید"),
    ("viewer", True, True, True, True, "none", "اجازهٔ استفاده از کلید مشترک را هم ندارید"),
    ("operator", False, False, True, False, "none", "کلید مشترک هم در دسترس نیست"),
    ("operator", False, False, False, True, "none", "کلید مشترک هم در دسترس نیست"),
    ("admin", True, True, False, False, "none", "کلید مشترک هم در دسترس نیست"),
]


@pytest.mark.parametrize(
    ("role", "personal", "prefers", "shared", "allowed", "source", "words"), CASES
)
def test_page_states_which_key_a_call_uses(
    login_as, make_provider, role, personal, prefers, shared, allowed, source, words
):
    client = login_as(role)
    fields = {"shared_api_enabled": allowed}
    if shared:
        fields["shared_api_key"] = SHARED_KEY
    provider = make_provider("openrouter", name="OpenRouter", **fields)
    if personal or prefers:
        admins.save_provider_settings(
            client.admin,
            provider,
            personal_api_key=PERSONAL_KEY if personal else ...,
            use_shared_api=prefers,
        )

    body = text(client.get("/keys"))

    shown, section = source_shown(body, provider)
    assert shown == source
    assert words in section
    if source == "personal":
        assert secrets.hint(PERSONAL_KEY) in section
    if source == "shared":
        assert secrets.hint(SHARED_KEY) in section
    assert PERSONAL_KEY not in body and SHARED_KEY not in body


def test_save_a_personal_key(login_as, post, make_provider):
    client = login_as("operator")
    p = make_provider("openrouter", name="OpenRouter")

    response = post(
        client, f"/keys/{p.id}", {f"p{p.id}-personal_api_key": PERSONAL_KEY}, follow_redirects=True
    )

    body = text(response)
    assert "ذخیره شد" in body
    assert PERSONAL_KEY not in body and secrets.hint(PERSONAL_KEY) in body
    assert source_shown(body, p)[0] == "personal"
    s = settings_of(client.admin, p)
    assert secrets.decrypt(s.personal_api_key_encrypted) == PERSONAL_KEY
    assert s.use_shared_api is False


def test_choose_the_shared_key_keeps_the_personal_one(login_as, post, make_provider):
    client = login_as("operator")
    p = make_provider("openrouter", shared_api_key=SHARED_KEY, shared_api_enabled=True)
    admins.save_provider_settings(client.admin, p, personal_api_key=PERSONAL_KEY)

    response = post(
        client, f"/keys/{p.id}", {f"p{p.id}-use_shared_api": "y"}, follow_redirects=True
    )

    assert source_shown(text(response), p)[0] == "shared"
    s = settings_of(client.admin, p)
    assert s.use_shared_api is True
    assert secrets.decrypt(s.personal_api_key_encrypted) == PERSONAL_KEY  # empty field: kept


def test_clear_the_personal_key(login_as, post, make_provider):
    client = login_as("viewer")
    p = make_provider("openrouter")
    admins.save_provider_settings(client.admin, p, personal_api_key=PERSONAL_KEY)

    response = post(client, f"/keys/{p.id}/clear", follow_redirects=True)

    assert "حذف شد" in text(response)
    assert source_shown(text(response), p)[0] == "none"
    assert settings_of(client.admin, p).personal_api_key_encrypted is None


@pytest.mark.parametrize(
    ("key", "message"),
    [("sk has spaces", "بدون فاصله"), ("x" * 501, "طولانی"), ("کلید-فارسی", "لاتین")],
)
def test_bad_key_is_refused_next_to_its_field(login_as, post, make_provider, key, message):
    client = login_as("operator")
    p = make_provider("openrouter")
    other = make_provider("other")

    response = post(client, f"/keys/{p.id}", {f"p{p.id}-personal_api_key": key})

    body = text(response)
    assert response.status_code == 400
    assert message in field_error(body, f"p{p.id}-personal_api_key")
    assert field_error(body, f"p{other.id}-personal_api_key") is None  # only that provider
    assert settings_of(client.admin, p) is None
    assert key not in body


def test_one_admins_key_is_not_anothers(login_as, make_provider):
    alice = login_as("operator")
    bob = login_as("operator")
    p = make_provider("openrouter")
    admins.save_provider_settings(alice.admin, p, personal_api_key=PERSONAL_KEY)

    body = text(bob.get("/keys"))

    assert secrets.hint(PERSONAL_KEY) not in body
    assert source_shown(body, p)[0] == "none"


def test_disabled_provider_is_flagged(login_as, make_provider):
    client = login_as("viewer")
    p = make_provider("openrouter", is_enabled=False)
    _, section = source_shown(text(client.get("/keys")), p)
    assert "غیرفعال است" in section


def test_key_input_is_a_password_field_without_autocomplete(login_as, make_provider):
    client = login_as("viewer")
    p = make_provider("openrouter")
    body = text(client.get("/keys"))
    tag = re.search(rf'<input[^>]*name="p{p.id}-personal_api_key"[^>]*>', body).group(0)
    assert 'type="password"' in tag and 'autocomplete="off"' in tag
