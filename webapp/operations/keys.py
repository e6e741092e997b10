"""Key rotation: every stored secret re-encrypted under the first FERNET_KEYS key."""

from __future__ import annotations

from sqlalchemy import select

from webapp import secrets
from webapp.db import transactional
from webapp.extensions import db
from webapp.models import AdminProviderSettings, Provider
from webapp.operations import audit


@transactional
def rotate_all(*, actor=None) -> int:
    """Returns how many secrets were re-encrypted. A secret no key can read aborts
    the whole rotation (SecretUnreadable) and nothing is written."""
    count = 0
    for provider in db.session.scalars(
        select(Provider).where(Provider.shared_api_key_encrypted.is_not(None))
    ):
        provider.shared_api_key_encrypted = secrets.rotate(provider.shared_api_key_encrypted)
        count += 1
    for settings in db.session.scalars(
        select(AdminProviderSettings).where(
            AdminProviderSettings.personal_api_key_encrypted.is_not(None)
        )
    ):
        settings.personal_api_key_encrypted = secrets.rotate(settings.personal_api_key_encrypted)
        count += 1
    audit.record(
        "keys.rotate",
        None,
        actor=actor,
        target_type="keys",
        target_repr="FERNET_KEYS",
        after={"secrets": count},
    )
    return count
