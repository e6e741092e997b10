"""API keys at rest: Fernet through MultiFernet, so keys can be rotated.

``FERNET_KEYS`` is a comma-separated list; the first key encrypts, every key
decrypts. Without it (development only) one key is derived from ``SECRET_KEY``
with HKDF-SHA256. Keys are never shown back in full, only a hint like ``…a1b2``.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from flask_babel import lazy_gettext as _l

from webapp.errors import DomainError, ValidationError

HINT_CHARS = 4
MAX_KEY_LENGTH = 500


class SecretUnreadable(DomainError):
    """A stored secret that none of the configured keys can decrypt."""

    status = 500


def derive_dev_key(secret_key: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"model-control-panel", info=b"fernet-dev-key"
    )
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


def parse_keys(raw: str) -> list[bytes]:
    keys = [k.strip().encode() for k in raw.split(",") if k.strip()]
    for key in keys:
        Fernet(key)  # raises ValueError on a malformed key
    return keys


def fernet_for(config) -> MultiFernet:
    raw = config.get("FERNET_KEYS") or ""
    keys = parse_keys(raw) if raw else [derive_dev_key(config["SECRET_KEY"])]
    return MultiFernet([Fernet(k) for k in keys])


def _fernet() -> MultiFernet:
    ext = current_app.extensions
    cached = ext.get("mcp_fernet")
    if cached is None:
        cached = ext["mcp_fernet"] = fernet_for(current_app.config)
    return cached


UNREADABLE = _l("A stored API key cannot be decrypted with the configured FERNET_KEYS")


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(UNREADABLE) from exc


def rotate(token: str) -> str:
    """Re-encrypt under the first key (raises SecretUnreadable if no key reads it)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(UNREADABLE) from exc


def hint(plaintext: str) -> str:
    """``…a1b2``: enough to tell keys apart, never enough to use one."""
    if len(plaintext) <= HINT_CHARS * 2:
        return "…"
    return "…" + plaintext[-HINT_CHARS:]


def scrub(text: str, api_key: str) -> str:
    """``text`` with the key replaced by its hint."""
    return text.replace(api_key, hint(api_key)) if api_key else text


def clean_key(raw: object, field: str) -> str:
    """Validate a key typed by an admin: a non-empty single line of printable ASCII."""
    if not isinstance(raw, str):
        raise ValidationError(_l("The API key must be text."), field=field)
    key = raw.strip()
    if not key:
        raise ValidationError(_l("The API key cannot be empty."), field=field)
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationError(_l("The API key is too long."), field=field)
    if any(ch.isspace() or not ch.isprintable() or ord(ch) > 126 for ch in key):
        raise ValidationError(
            _l("The API key may contain only printable Latin characters without spaces."),
            field=field,
        )
    return key
