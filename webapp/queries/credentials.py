"""Which API key a call uses (docs/CONTRACTS.md §2, the seed's scenario 3).

1. the admin has a personal key for the provider and has not chosen the shared
   one: the personal key;
2. else the provider's shared key is enabled (and set) and the admin may use
   shared keys (``use_shared_api``): the shared key;
3. else NoApiAccess, and no request is sent.
Without an admin (a background job) only step 2 applies.

A personal key is bound to the provider origin (scheme, host, port) it was saved for;
once the provider's address moves to another origin the key is held back (step 1 is
skipped) until its owner confirms it for the new origin or replaces it.

A resolved key is kept in this process's memory only (``lookup.remembered``: never in
Redis, never on disk), per provider and admin, so a warm call runs no query; any change
to a key, the provider (its origin, the shared key's switch), the admin (role, enabled)
or their settings moves the cache generation, which drops it in every worker (pushed
through Redis, and re-read from the database at most a second later). A refusal is not
kept: its message is rendered in the caller's language.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from webapp import secrets
from webapp.ai import egress
from webapp.db import transactional
from webapp.errors import NoApiAccess, NotFound
from webapp.extensions import db
from webapp.models import AdminProviderSettings, Provider
from webapp.operations import audit
from webapp.queries.lookup import remembered

PERSONAL = "personal"
SHARED = "shared"


@dataclass(frozen=True)
class Credentials:
    provider_slug: str
    source: str  # PERSONAL or SHARED
    api_key: str

    @property
    def hint(self) -> str:
        return secrets.hint(self.api_key)

    def __repr__(self) -> str:  # never leak the key into logs or tracebacks
        return (
            f"Credentials(provider={self.provider_slug!r}, source={self.source!r}, key={self.hint})"
        )

    __str__ = __repr__


@dataclass(frozen=True)
class Resolution:
    """The decision without the key: what the dashboard shows an admin."""

    source: str | None  # PERSONAL, SHARED or None (no access)
    hint: str
    reason: str
    # The admin's personal key was saved for another origin of the provider: held back.
    personal_key_on_hold: bool = False


def personal_settings(admin, provider: Provider) -> AdminProviderSettings | None:
    """``admin``'s settings (personal key, shared-key choice) for ``provider``, if any."""
    if admin is None:
        return None
    return db.session.scalar(
        select(AdminProviderSettings).where(
            AdminProviderSettings.admin_id == admin.id,
            AdminProviderSettings.provider_id == provider.id,
        )
    )


def explain(provider: Provider, admin=None) -> Resolution:
    """Which key a call by ``admin`` (None: a background job) would use, in words."""
    return _decide(provider, admin, personal_settings(admin, provider))


def personal_key_on_hold(provider: Provider, settings: AdminProviderSettings | None) -> bool:
    """A personal key exists but was saved for another origin than the provider's now."""
    return (
        settings is not None
        and settings.has_personal_api_key
        and not settings.key_bound_to(egress.origin(provider.base_url))
    )


def _decide(provider: Provider, admin, settings: AdminProviderSettings | None) -> Resolution:
    on_hold = personal_key_on_hold(provider, settings)
    if settings is not None and settings.has_personal_api_key and not settings.use_shared_api:
        if not on_hold:
            return Resolution(
                PERSONAL, settings.personal_api_key_hint, str(_l("Your personal key is used."))
            )
    else:
        on_hold = False  # not chosen anyway: nothing to explain
    shared_usable = provider.shared_api_enabled and provider.has_shared_api_key
    may_share = admin is None or admin.can("use_shared_api")
    held = _l(
        "Your personal key was saved for another address of this provider, so it is not "
        "sent until you confirm it on the My keys page."
    )
    if shared_usable and may_share:
        reason = _l("The organisation's shared key is used.")
        if on_hold:
            reason = f"{held} {reason}"
        return Resolution(SHARED, provider.shared_api_key_hint, str(reason), on_hold)
    if on_hold:
        reason = _l("No API access: %(why)s", why=held)
    elif not shared_usable:
        reason = _l("No API access: you have no personal key and the shared key is not available.")
    else:
        reason = _l("No API access: you have no personal key and may not use the shared key.")
    return Resolution(None, "", str(reason), on_hold)


def resolve_credentials(provider: Provider | str | int, admin=None) -> Credentials:
    """The key to send to ``provider`` (a row, a slug or an id) for ``admin``; raises
    NoApiAccess when none may be used. Cached in this process (see the module)."""
    ident = provider if isinstance(provider, str | int) else provider.id
    key = ("credentials", ident, None if admin is None else admin.id)
    return remembered(key, lambda: _resolve(provider, admin))


def _resolve(provider: Provider | str | int, admin) -> Credentials:
    if not isinstance(provider, Provider):
        column = Provider.slug if isinstance(provider, str) else Provider.id
        found = db.session.scalar(select(Provider).where(column == provider))
        if found is None:
            raise NoApiAccess(_l("The provider was not found."), field="provider")
        provider = found
    settings = personal_settings(admin, provider)
    decision = _decide(provider, admin, settings)
    if decision.source == PERSONAL:
        return Credentials(
            provider.slug, PERSONAL, secrets.decrypt(settings.personal_api_key_encrypted)
        )
    if decision.source == SHARED:
        return Credentials(
            provider.slug, SHARED, secrets.decrypt(provider.shared_api_key_encrypted)
        )
    raise NoApiAccess(decision.reason)


@transactional
def confirm_personal_key(admin, provider: Provider) -> AdminProviderSettings:
    """``admin`` vouches that their personal key belongs at the provider's present origin:
    bind it there (audited). Raises NotFound when they have no personal key."""
    settings = personal_settings(admin, provider)
    if settings is None or not settings.has_personal_api_key:
        raise NotFound(_l("You have no personal key for this provider."), field="provider")
    before = {"personal_api_key_origin": settings.personal_api_key_origin}
    settings.personal_api_key_origin = egress.origin(provider.base_url)
    if before["personal_api_key_origin"] == settings.personal_api_key_origin:
        return settings
    settings.stamp(admin)
    audit.record(
        "settings.update",
        settings,
        actor=admin,
        before=before,
        after={"personal_api_key_origin": settings.personal_api_key_origin},
        target_repr=f"{admin.username} / {provider.slug}",
    )
    return settings
