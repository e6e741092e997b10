"""Admins, their roles and permissions, their per-provider settings and API tokens."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db
from webapp.i18n import labeller
from webapp.models.base import AuditMixin, UTCDateTime, utcnow

PERMISSIONS: tuple[str, ...] = (
    "view_models",
    "manage_models",
    "manage_providers",
    "use_shared_api",
    "manage_admins",
)

ROLES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"view_models"}),
    "operator": frozenset({"view_models", "manage_models", "use_shared_api"}),
    "admin": frozenset(set(PERMISSIONS) - {"manage_admins"}),
    "superadmin": frozenset(PERMISSIONS),
    # Programs: API tokens only (the gateway with the shared key); never a dashboard session.
    "service": frozenset({"use_shared_api"}),
}
# What the pages call each role (layout header, admins table, history values).
ROLE_LABELS = {
    "viewer": _l("Viewer"),
    "operator": _l("Operator"),
    "admin": _l("Administrator"),
    "superadmin": _l("Super administrator"),
    "service": _l("Service"),
}
role_label = labeller(ROLE_LABELS)


class Admin(UserMixin, AuditMixin, db.Model):
    __tablename__ = "admin"
    __table_args__ = (
        CheckConstraint(
            "role IN ('viewer', 'operator', 'admin', 'superadmin', 'service')", name="role_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(120), default="", nullable=False)
    password_hash: Mapped[str] = mapped_column(String(256), nullable=False)
    role: Mapped[str] = mapped_column(String(20), default="viewer", nullable=False)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Bumped when the password changes or the admin is disabled (kept for the audit
    # trail; the sessions themselves live in login_session).
    session_version: Mapped[int] = mapped_column(default=1, nullable=False)

    provider_settings: Mapped[list[AdminProviderSettings]] = relationship(
        back_populates="admin",
        cascade="all, delete-orphan",
        foreign_keys="AdminProviderSettings.admin_id",
    )

    def set_password(self, password: str) -> None:
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # flask-login: disabled admins cannot sign in
        return self.is_enabled

    @property
    def permissions(self) -> frozenset[str]:
        return ROLES.get(self.role, frozenset())

    def can(self, permission: str) -> bool:
        return self.is_enabled and permission in self.permissions

    # The key of the login_session this request came with (set by the user loader and
    # at sign-in): flask-login stores get_id() in the session and remember cookies.
    login_key = None  # str | None, per loaded instance; not a column

    def get_id(self) -> str:
        return self.login_key or ""

    def __repr__(self) -> str:
        return f"<Admin {self.username} ({self.role})>"


# Usernames ignore case: "Admin" may not sit next to "admin" (SQLite and PostgreSQL alike).
Index("uq_admin_username_lower", func.lower(Admin.username), unique=True)


class AdminProviderSettings(AuditMixin, db.Model):
    """An admin's personal key for one provider and whether they prefer the shared key."""

    __tablename__ = "admin_provider_settings"
    __table_args__ = (UniqueConstraint("admin_id", "provider_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(
        ForeignKey("admin.id", ondelete="CASCADE"), nullable=False
    )
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("provider.id", ondelete="CASCADE"), nullable=False
    )
    personal_api_key_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    personal_api_key_hint: Mapped[str] = mapped_column(String(16), default="", nullable=False)
    # The provider origin (scheme://host:port) the key was saved for: after the provider's
    # address moves elsewhere the key is held back until its owner confirms it.
    personal_api_key_origin: Mapped[str | None] = mapped_column(String(500), nullable=True)
    use_shared_api: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)

    admin: Mapped[Admin] = relationship(back_populates="provider_settings", foreign_keys=[admin_id])
    provider = relationship("Provider")

    @property
    def has_personal_api_key(self) -> bool:
        return bool(self.personal_api_key_encrypted)

    def key_bound_to(self, origin: str) -> bool:
        """Whether the personal key was saved for the provider at ``origin``."""
        return self.has_personal_api_key and self.personal_api_key_origin == origin


class ApiToken(db.Model):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(
        ForeignKey("admin.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), default="", nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    prefix: Mapped[str] = mapped_column(String(12), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    admin: Mapped[Admin] = relationship()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= utcnow()
