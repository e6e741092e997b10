"""The audit trail: one row per change, with before and after."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import UTCDateTime, utcnow


class AuditEvent(db.Model):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False, index=True
    )
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # Kept as text so the trail survives the admin's deletion; "cli" or "system" otherwise.
    actor_name: Mapped[str] = mapped_column(String(64), default="", nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    target_type: Mapped[str] = mapped_column(String(32), nullable=False)
    target_id: Mapped[int | None] = mapped_column(nullable=True)
    target_repr: Mapped[str] = mapped_column(String(300), default="", nullable=False)
    before: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # Events written by one operation share a batch (an activation and what it deactivated).
    batch: Mapped[str] = mapped_column(String(32), default="", nullable=False, index=True)
