"""Admins, their personal provider settings and their API tokens."""

from __future__ import annotations

import hashlib
import secrets as pysecrets
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from webapp import outage, secrets, validation
from webapp.ai import egress
from webapp.db import transactional, unique_message
from webapp.errors import NotFound, PermissionDenied, ValidationError
from webapp.extensions import db
from webapp.models import ROLES, Admin, AdminProviderSettings, ApiToken, Provider, utcnow
from webapp.operations import audit, sessions
from webapp.queries import tokens
from webapp.queries.credentials import personal_settings
from webapp.queries.listing import count

MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "mcp_"
MAX_TOKEN_DAYS = 3650


USERNAME_TAKEN = _l("This username is taken (upper and lower case count as the same letter).")
# A create that races past the check above meets the unique index: the same answer.
unique_message("admin", "username", USERNAME_TAKEN)


def check_password_rules(password: object, field: str = "password") -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            _l("The password must be at least %(min)d characters.", min=MIN_PASSWORD_LENGTH),
            field=field,
        )
    if len(password) > 200:
        raise ValidationError(_l("The password is too long."), field=field)
    if password.isdigit() or password.isalpha():
        raise ValidationError(
            _l("The password must mix letters with digits or symbols."), field=field
        )
    return password


def check_role(role: object) -> str:
    if role not in ROLES:
        raise ValidationError(_l("Unknown role."), field="role")
    return role  # type: ignore[return-value]


def find_admin(username: str) -> Admin | None:
    """Usernames ignore case (a unique index on lower(username) keeps them apart)."""
    return db.session.scalar(select(Admin).where(func.lower(Admin.username) == username.lower()))


def get_admin(username: str) -> Admin:
    admin = find_admin(str(username))
    if admin is None:
        raise NotFound(_l("No admin with this username."), field="username")
    return admin


@transactional
def create_admin(
    username: str, password: str, role: str = "viewer", *, display_name: str = "", actor=None
) -> Admin:
    username = validation.model_name(username, field="username")
    if len(username) > 64:
        raise ValidationError(
            _l("At most %(max)d characters are allowed.", max=64), field="username"
        )
    display_name = validation.text(display_name, "display_name", max_length=120, required=False)
    check_password_rules(password)
    check_role(role)
    if find_admin(username) is not None:
        raise ValidationError(USERNAME_TAKEN, field="username")
    admin = Admin(username=username, role=role, display_name=display_name or username)
    admin.set_password(password)
    admin.stamp(actor)
    db.session.add(admin)
    db.session.flush()
    audit.record("admin.create", admin, actor=actor, after={"username": username, "role": role})
    return admin


def _refuse_self_lockout(admin: Admin, actor, *, role: str | None, is_enabled: bool | None):
    """An admin may not disable themselves nor drop their own manage_admins: the panel
    must never lose its last way to manage admins by a slip of the hand."""
    if actor is None or getattr(actor, "id", None) != admin.id:
        return
    if is_enabled is False:
        raise ValidationError(_l("You cannot disable your own account."), field="is_enabled")
    if (
        role is not None
        and "manage_admins" in admin.permissions
        and "manage_admins" not in ROLES[role]
    ):
        raise ValidationError(
            _l("You cannot remove your own permission to manage admins."), field="role"
        )


def _lock_admins() -> None:
    """Lock every admin row, in id order, for the rest of the transaction. Changes to
    who may manage admins decide on the whole table (is anyone left?), so two of them
    must run one after the other; the fixed order means they queue, never deadlock.
    On SQLite the transaction's BEGIN IMMEDIATE already serialises writers."""
    db.session.execute(select(Admin.id).order_by(Admin.id).with_for_update())


def _managers_left() -> int:
    roles = [role for role, perms in ROLES.items() if "manage_admins" in perms]
    return count(Admin, Admin.is_enabled, Admin.role.in_(roles))


# What the audit trail keeps of an admin change (besides what it ended and revoked).
ADMIN_AUDITED = ("role", "is_enabled", "display_name")


@dataclass(frozen=True)
class AdminChange:
    """What ``update_admin`` did beyond the fields: sessions ended and tokens revoked."""

    admin: Admin
    role_changed: bool
    sessions_ended: int
    tokens_revoked: int


def update_admin(admin: Admin | int, **changes) -> Admin:
    """Change an admin. A new password or a new role ends all their sessions and revokes
    their API tokens (whatever was granted under the old password or role must be
    granted again); disabling ends their sessions. Refused when it would leave no
    enabled admin with ``manage_admins``, or when the actor no longer holds it."""
    return change_admin(admin, **changes).admin


@transactional
def change_admin(
    admin: Admin | int,
    *,
    role: str | None = None,
    is_enabled: bool | None = None,
    password: str | None = None,
    display_name: str | None = None,
    actor=None,
) -> AdminChange:
    """``update_admin``, answering what else it did (for the page's message)."""
    admin = _locked_admin(admin, actor)
    if role is not None:
        check_role(role)
    _refuse_self_lockout(admin, actor, role=role, is_enabled=is_enabled)
    before = {name: getattr(admin, name) for name in ADMIN_AUDITED}
    if role is not None:
        admin.role = role
    if display_name is not None:
        admin.display_name = validation.text(display_name, "display_name", max_length=120)
    if is_enabled is not None:
        admin.is_enabled = is_enabled
        if not is_enabled:
            admin.session_version += 1
    if password is not None:
        admin.set_password(check_password_rules(password))
        admin.session_version += 1
    db.session.flush()
    was_manager = before["is_enabled"] and "manage_admins" in ROLES[before["role"]]
    if was_manager and not admin.can("manage_admins") and _managers_left() == 0:
        raise ValidationError(
            _l("The panel needs at least one enabled admin who can manage admins."),
            field="is_enabled" if is_enabled is False else "role",
        )
    role_changed = admin.role != before["role"]
    ended = revoked = 0
    if role_changed or password is not None or is_enabled is False:
        ended = sessions.end_all(admin.id)
    if role_changed or password is not None:
        revoked = _revoke_all_tokens(admin, actor)
    after = {name: getattr(admin, name) for name in ADMIN_AUDITED}
    if password is not None:
        after["password_changed"] = True
    if ended:
        after["sessions_ended"] = ended
    if revoked:
        after["tokens_revoked"] = revoked
    admin.stamp(actor)
    audit.record("admin.update", admin, actor=actor, before=before, after=after)
    return AdminChange(admin, role_changed, ended, revoked)


def _locked_admin(admin: Admin | int, actor) -> Admin:
    """Take the admins lock, then re-read ``admin`` and the actor's rights under it:
    rights checked when the page loaded may be gone now."""
    _lock_admins()
    admin_id = admin.id if isinstance(admin, Admin) else admin
    admin = db.session.get(Admin, admin_id, populate_existing=True)
    if admin is None:
        raise NotFound(_l("No admin with this username."), field="username")
    if isinstance(actor, Admin):
        current = db.session.get(Admin, actor.id, populate_existing=True)
        if current is None or not current.can("manage_admins"):
            raise PermissionDenied(_l("You do not have permission for this action."))
    return admin


def _revoke_all_tokens(admin: Admin, actor) -> int:
    tokens = db.session.scalars(
        select(ApiToken).where(ApiToken.admin_id == admin.id, ApiToken.revoked_at.is_(None))
    ).all()
    now = utcnow()
    for token in tokens:
        token.revoked_at = now
        audit.record("token.revoke", token, actor=actor, target_repr=token.name or token.prefix)
    return len(tokens)


def _settings_snapshot(settings: AdminProviderSettings) -> dict:
    return {
        "has_personal_api_key": settings.has_personal_api_key,
        "personal_api_key_hint": settings.personal_api_key_hint,
        "use_shared_api": bool(settings.use_shared_api),  # None until a new row is flushed
    }


@transactional
def save_provider_settings(
    admin: Admin, provider: Provider, *, personal_api_key=..., use_shared_api: bool | None = None
) -> AdminProviderSettings:
    """Set (a string), clear (None) or keep (omitted) the personal key; set the choice."""
    settings = personal_settings(admin, provider)
    if settings is None:
        settings = AdminProviderSettings(admin_id=admin.id, provider_id=provider.id)
        db.session.add(settings)
    before = _settings_snapshot(settings)
    if personal_api_key is not ...:
        if personal_api_key in (None, ""):
            settings.personal_api_key_encrypted = None
            settings.personal_api_key_hint = ""
            settings.personal_api_key_origin = None
        else:
            key = secrets.clean_key(personal_api_key, "personal_api_key")
            settings.personal_api_key_encrypted = secrets.encrypt(key)
            settings.personal_api_key_hint = secrets.hint(key)
            # Bound to where the provider is now: sent nowhere else (see credentials).
            settings.personal_api_key_origin = egress.origin(provider.base_url)
    if use_shared_api is not None:
        settings.use_shared_api = validation.boolean(use_shared_api, "use_shared_api")
    settings.stamp(admin)
    db.session.flush()
    audit.record(
        "settings.update",
        settings,
        actor=admin,
        before=before,
        after=_settings_snapshot(settings),
        target_repr=f"{admin.username} / {provider.slug}",
    )
    return settings


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_expires_days(value: object) -> int | None:
    """None or "" (never expires), else a whole number of days from 1 to 3650."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    message = _l(
        "The expiry must be a whole number of days from %(min)d to %(max)d.",
        min=1,
        max=MAX_TOKEN_DAYS,
    )
    try:
        days = None if isinstance(value, bool | float) else int(str(value).strip())
    except ValueError:
        days = None
    if days is None or not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValidationError(message, field="expires_days")
    return days


@transactional
def create_token(
    admin: Admin, name: str = "", *, expires_days: object = None, actor=None
) -> tuple[ApiToken, str]:
    """A new bearer token; the plaintext is returned once and never stored.
    ``expires_days`` (optional) ends it that many days from now."""
    name = validation.text(name, "name", max_length=100, required=False)
    days = check_expires_days(expires_days)
    plaintext = TOKEN_PREFIX + pysecrets.token_urlsafe(32)
    token = ApiToken(
        admin_id=admin.id,
        name=name,
        token_hash=hash_token(plaintext),
        prefix=plaintext[:8],
        expires_at=utcnow() + timedelta(days=days) if days else None,
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        "token.create",
        token,
        actor=actor or admin,
        after={
            "admin": admin.username,
            "name": name,
            "prefix": token.prefix,
            "expires_at": f"{token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else None,
        },
        target_repr=name or token.prefix,
    )
    return token, plaintext


@transactional
def revoke_token(token: ApiToken | int, *, actor=None) -> ApiToken:
    token = db.session.get(ApiToken, token.id if isinstance(token, ApiToken) else token)
    if token is None:
        raise NotFound(_l("The token was not found."), field="token")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record("token.revoke", token, actor=actor, target_repr=token.name or token.prefix)
    return token


def admin_for_token(plaintext: str) -> Admin | None:
    """The enabled admin behind a live token, or None. Records the last use (throttled)."""
    found = caller_for_token(plaintext)
    return found[0] if found else None


def caller_for_token(plaintext: str) -> tuple[Admin, int] | None:
    """The enabled admin behind a live token and the token's id, or None; from the
    per-process token cache (``queries.tokens``), so a known token costs no query. The
    admin is a detached copy shared by this process's requests: enough to authorise
    and to name the actor; load the row for anything else."""
    if not plaintext or len(plaintext) > 200:
        return None
    digest = hash_token(plaintext)
    entry = tokens.live_token(digest)
    if entry is None:
        return None
    now = utcnow()
    if entry.last_used_at is None or (now - entry.last_used_at).total_seconds() > 60:
        try:
            _record_token_use(entry.token_id, now)
        except OperationalError as exc:  # bookkeeping only: the database is away or busy
            outage.state.went_down(exc)
            outage.forget_transaction()
        tokens.used(digest, entry, now)
    return entry.admin, entry.token_id


@transactional
def _record_token_use(token_id: int, when) -> None:
    """In a write transaction of its own (BEGIN IMMEDIATE on SQLite): upgrading the
    lookup's read transaction instead fails at once with "database is locked" while
    other requests write (found by tests/api/test_concurrency.py)."""
    db.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=when))


@transactional
def record_sign_in(username: str, admin: Admin | None, *, success: bool, ip: str = "") -> None:
    """Audit a sign-in attempt (never the password); stamp the last login on success."""
    if success and admin is not None:
        admin.last_login_at = utcnow()
        audit.record("auth.login", admin, actor=admin, after={"ip": ip})
    else:
        audit.record(
            "auth.login_failed",
            admin,
            actor=None,
            target_type="admin",
            target_repr=username[:64],
            after={"ip": ip},
        )
