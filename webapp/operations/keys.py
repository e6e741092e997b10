"""Key rotation: every stored secret re-encrypted under the first FERNET_KEYS key."""

from __future__ import annotations

from sqlalchemy import select

from webapp import secrets
from webapp.db import transactional
from webapp.extensions import db
from webapp.models import AdminProviderSettings, Provider
from webapp.operations import audit

# Every column that holds a secret: the providers' shared keys, the admins' personal keys.
STORED_SECRETS = (
    Provider.shared_api_key_encrypted,
    AdminProviderSettings.personal_api_key_encrypted,
)


@transactional
def rotate_all(*, actor=None) -> int:
    """Returns how many secrets were re-encrypted. A secret no key can read aborts
    the whole rotation (SecretUnreadable) and nothing is written."""
    count = 0
    for column in STORED_SECRETS:
        for row in db.session.scalars(select(column.class_).where(column.is_not(None))):
            setattr(row, column.key, secrets.rotate(getattr(row, column.key)))
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
