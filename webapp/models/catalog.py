"""Providers, their models, and the per-(model, capability) activation state.

The single-active rule lives in the database: ``model_capability`` holds one row
per capability of a model, with ``is_active``; a unique index over the active rows
only, keyed by (provider_id, capability), lets at most one model of a provider be
active for a capability, on SQLite and PostgreSQL alike. The composite foreign key
(model_id, provider_id) keeps the denormalised provider_id honest.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.capabilities import CAPABILITIES, sort_capabilities
from webapp.extensions import db
from webapp.models.base import AuditMixin, UTCDateTime

_CAPABILITY_SQL = ", ".join(f"'{c}'" for c in CAPABILITIES)


def _owned(back_populates: str, order_by: str):
    """Rows that live and die with their parent: the database's ON DELETE CASCADE removes
    them (``passive_deletes``: the ORM does not load them only to delete them)."""
    return relationship(
        back_populates=back_populates,
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by=order_by,
    )


class Provider(AuditMixin, db.Model):
    __tablename__ = "provider"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(50), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    base_url: Mapped[str] = mapped_column(String(500), default="", nullable=False)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    shared_api_enabled: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    shared_api_key_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    shared_api_key_hint: Mapped[str] = mapped_column(String(16), default="", nullable=False)

    models: Mapped[list[AIModel]] = _owned("provider", order_by="AIModel.display_name")

    @property
    def has_shared_api_key(self) -> bool:
        return bool(self.shared_api_key_encrypted)

    def __repr__(self) -> str:
        return f"<Provider {self.slug}>"


class AIModel(AuditMixin, db.Model):
    __tablename__ = "ai_model"
    __table_args__ = (
        UniqueConstraint("provider_id", "name"),
        # One registration per model at a provider: `<provider>/<model id>` names one row.
        UniqueConstraint("provider_id", "model_id"),
        # Target of model_capability's composite foreign key.
        UniqueConstraint("id", "provider_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("provider.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    model_id: Mapped[str] = mapped_column(String(200), nullable=False)
    display_name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)

    provider: Mapped[Provider] = relationship(back_populates="models")
    capability_rows: Mapped[list[ModelCapability]] = _owned(
        "model", order_by="ModelCapability.capability"
    )

    @property
    def capabilities(self) -> list[str]:
        return sort_capabilities(row.capability for row in self.capability_rows)

    @property
    def active_capabilities(self) -> list[str]:
        return sort_capabilities(row.capability for row in self.capability_rows if row.is_active)

    @property
    def is_active(self) -> bool:
        """Active for at least one capability (docs/CONTRACTS.md §1)."""
        return any(row.is_active for row in self.capability_rows)

    def __repr__(self) -> str:
        return f"<AIModel {self.name} of provider {self.provider_id}>"


class ModelCapability(db.Model):
    """One capability of one model, and whether the model is live for it."""

    __tablename__ = "model_capability"
    __table_args__ = (
        ForeignKeyConstraint(
            ["model_id", "provider_id"],
            ["ai_model.id", "ai_model.provider_id"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        CheckConstraint(f"capability IN ({_CAPABILITY_SQL})", name="capability_known"),
        # Whole groups (locks, re-rendering a group) are read by (provider, capability);
        # the partial index below only serves the active row. is_active and model_id
        # make it cover the models page's count of every group and its live model.
        Index("ix_model_capability_group", "provider_id", "capability", "is_active", "model_id"),
        Index(
            "uq_model_capability_one_active",
            "provider_id",
            "capability",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
    )

    model_id: Mapped[int] = mapped_column(primary_key=True)
    capability: Mapped[str] = mapped_column(String(20), primary_key=True)
    provider_id: Mapped[int] = mapped_column(nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    activated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin.id", ondelete="SET NULL"), nullable=True
    )

    model: Mapped[AIModel] = relationship(back_populates="capability_rows")

    def __repr__(self) -> str:
        state = "active" if self.is_active else "inactive"
        return f"<ModelCapability {self.model_id}:{self.capability} {state}>"


# ``model_capability.is_active`` as a bare term. SQLAlchemy renders the column in a
# WHERE as ``is_active = 1`` on SQLite, which does not match the partial index's
# ``WHERE is_active`` (SQLite matches partial-index predicates term by term), so it
# would scan every row; the bare term lets SQLite and PostgreSQL use the index.
ACTIVE_ROW = literal_column(f"{ModelCapability.__tablename__}.is_active")
