"""DESIGN.md §2: which key a call uses (the seed's scenario 3), and keys at rest."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from webapp import secrets
from webapp.errors import NoApiAccess
from webapp.extensions import db
from webapp.operations import admins, catalog
from webapp.queries.credentials import PERSONAL, SHARED, explain, resolve_credentials

SHARED_KEY = "sk-shared-000011112222"
PERSONAL_KEY = "sk-personal-99998888"


@pytest.fixture
def openrouter(make_provider):
    return make_provider("openrouter", shared_api_key=SHARED_KEY, shared_api_enabled=True)


def test_seed_test3_personal_key_has_priority(openrouter, make_admin):
    admin = make_admin("operator")
    admins.save_provider_settings(
        admin, openrouter, personal_api_key="sk-personal", use_shared_api=False
    )
    creds = resolve_credentials("openrouter", admin)
    assert creds.api_key == "sk-personal"
    assert creds.source == PERSONAL


def test_personal_key_but_admin_chose_shared(openrouter, make_admin):
    admin = make_admin("operator")
    admins.save_provider_settings(
        admin, openrouter, personal_api_key=PERSONAL_KEY, use_shared_api=True
    )
    creds = resolve_credentials(openrouter, admin)
    assert (creds.source, creds.api_key) == (SHARED, SHARED_KEY)


def test_no_personal_key_uses_shared_when_allowed(openrouter, make_admin):
    creds = resolve_credentials(openrouter, make_admin("operator"))
    assert (creds.source, creds.api_key) == (SHARED, SHARED_KEY)


def test_no_personal_key_and_not_allowed_to_share(openrouter, make_admin):
    viewer = make_admin("viewer")  # no use_shared_api permission
    with pytest.raises(NoApiAccess):
        resolve_credentials(openrouter, viewer)
    assert explain(openrouter, viewer).source is None


def test_viewer_with_personal_key_uses_it(openrouter, make_admin):
    viewer = make_admin("viewer")
    admins.save_provider_settings(viewer, openrouter, personal_api_key=PERSONAL_KEY)
    assert resolve_credentials(openrouter, viewer).api_key == PERSONAL_KEY


def test_shared_key_disabled_means_no_access(make_provider, make_admin):
    p = make_provider("acme", shared_api_key=SHARED_KEY, shared_api_enabled=False)
    with pytest.raises(NoApiAccess) as err:
        resolve_credentials(p, make_admin("operator"))
    assert "API" in str(err.value)


def test_shared_enabled_without_a_key_means_no_access(make_provider, make_admin):
    p = make_provider("acme", shared_api_enabled=True)
    with pytest.raises(NoApiAccess):
        resolve_credentials(p, make_admin("superadmin"))


def test_background_job_uses_only_the_shared_key(openrouter, make_admin):
    admin = make_admin("operator")
    admins.save_provider_settings(admin, openrouter, personal_api_key=PERSONAL_KEY)
    creds = resolve_credentials(openrouter, None)
    assert (creds.source, creds.api_key) == (SHARED, SHARED_KEY)
    catalog.update_provider(openrouter, {"shared_api_enabled": False})
    with pytest.raises(NoApiAccess):
        resolve_credentials(openrouter, None)


def test_disabled_admin_cannot_use_shared(openrouter, make_admin):
    admin = make_admin("operator")
    admins.update_admin(admin, is_enabled=False)
    with pytest.raises(NoApiAccess):
        resolve_credentials(openrouter, admin)


def test_credentials_never_show_the_key(openrouter, make_admin):
    creds = resolve_credentials(openrouter, make_admin("operator"))
    assert SHARED_KEY not in repr(creds) and SHARED_KEY not in str(creds)
    assert creds.hint == "…2222"


# --- keys at rest -------------------------------------------------------------------------


def test_database_holds_no_plaintext_key(app, make_admin, make_provider, tmp_path):
    p = make_provider("acme", shared_api_key=SHARED_KEY, shared_api_enabled=True)
    admins.save_provider_settings(make_admin(), p, personal_api_key=PERSONAL_KEY)
    rows = [
        *db.session.execute(db.text("SELECT * FROM provider")).all(),
        *db.session.execute(db.text("SELECT * FROM admin_provider_settings")).all(),
        *db.session.execute(db.text("SELECT * FROM audit_event")).all(),
    ]
    dump = "\n".join(map(str, rows))
    assert SHARED_KEY not in dump and PERSONAL_KEY not in dump
    assert "gAAAAA" in dump  # Fernet tokens are there instead
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        db.session.remove()
        db.engine.dispose()
        raw = b"".join(f.read_bytes() for f in tmp_path.glob("test.db*"))
        assert SHARED_KEY.encode() not in raw and PERSONAL_KEY.encode() not in raw


def test_rotation_keeps_old_secrets_readable(app_factory, make_provider):
    p = make_provider("acme", shared_api_key=SHARED_KEY, shared_api_enabled=True)
    old_token = p.shared_api_key_encrypted
    new_key = Fernet.generate_key().decode()
    from tests.conftest import FERNET_KEYS

    rotated_app = app_factory(FERNET_KEYS=f"{new_key},{FERNET_KEYS}")
    with rotated_app.app_context():
        # Before rotation the old token is still readable through the second key.
        assert secrets.decrypt(old_token) == SHARED_KEY
        from webapp.operations.keys import rotate_all

        assert rotate_all() == 1
        provider = catalog.get_provider("acme")
        assert provider.shared_api_key_encrypted != old_token
        assert (
            Fernet(new_key.encode()).decrypt(provider.shared_api_key_encrypted.encode()).decode()
            == SHARED_KEY
        )
        db.session.remove()

    only_new = app_factory(FERNET_KEYS=new_key)
    with only_new.app_context():
        assert resolve_credentials("acme", None).api_key == SHARED_KEY
        db.session.remove()


def test_unreadable_secret_is_an_explicit_error(app_factory, make_provider):
    make_provider("acme", shared_api_key=SHARED_KEY, shared_api_enabled=True)
    stranger = app_factory(FERNET_KEYS=Fernet.generate_key().decode())
    with stranger.app_context():
        with pytest.raises(secrets.SecretUnreadable):
            resolve_credentials("acme", None)
        from webapp.operations.keys import rotate_all

        with pytest.raises(secrets.SecretUnreadable):
            rotate_all()
        db.session.remove()


def test_dev_fallback_key_is_derived_with_hkdf():
    a = secrets.derive_dev_key("one")
    assert a != secrets.derive_dev_key("two")
    assert len(Fernet(a).encrypt(b"x")) > 0
    import base64
    import hashlib

    # Not the seed's bare hash of SECRET_KEY.
    assert a != base64.urlsafe_b64encode(hashlib.sha256(b"one").digest())


@pytest.mark.parametrize("bad", ["", "   ", "has space", "x" * 501, "کلید", 42])
def test_bad_keys_are_refused_and_change_nothing(make_provider, bad):
    p = make_provider("acme")
    from webapp.errors import ValidationError

    with pytest.raises(ValidationError):
        catalog.update_provider(
            p, {"shared_api_key": bad} if bad != "" else {"shared_api_key": bad, "slug": "BAD SLUG"}
        )
    assert catalog.get_provider("acme").shared_api_key_encrypted is None
