"""Traffic policies around the live model (docs/CONTRACTS.md §9): scheduled switches,
fallbacks and splits. None of them is an activation: §1's one live model per group
stays in ``model_capability`` alone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.capabilities import CAPABILITIES
from webapp.extensions import db
from webapp.models.base import UTCDateTime, utcnow
from webapp.models.catalog import AIModel, Provider

_CAPABILITY_SQL = ", ".join(f"'{c}'" for c in CAPABILITIES)
SCHEDULE_STATUSES = ("pending", "done", "failed", "cancelled")
_STATUS_SQL = ", ".join(f"'{s}'" for s in SCHEDULE_STATUSES)


class Schedule(db.Model):
    """A switch of one group to ``model`` (or to no model) at ``run_at``, or once the
    live model's calls of the day reach ``after_calls``.

    ``model_id`` is set to NULL when the model is deleted; ``clears`` tells that apart
    from a switch to «هیچ‌کدام», so such a schedule fails instead of emptying the group.
    """

    __tablename__ = "schedule"
    __table_args__ = (
        CheckConstraint(f"capability IN ({_CAPABILITY_SQL})", name="capability_known"),
        CheckConstraint(f"status IN ({_STATUS_SQL})", name="status_known"),
        CheckConstraint("after_calls IS NULL OR after_calls > 0", name="after_calls_positive"),
        # The runner's question: which pending schedules are due.
        Index("ix_schedule_status_run_at", "status", "run_at"),
        Index("ix_schedule_group", "provider_id", "capability"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("provider.id", ondelete="CASCADE"), nullable=False
    )
    capability: Mapped[str] = mapped_column(String(20), nullable=False)
    model_id: Mapped[int | None] = mapped_column(
        ForeignKey("ai_model.id", ondelete="SET NULL"), nullable=True, index=True
    )
    clears: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    model_name: Mapped[str] = mapped_column(String(200), default="", nullable=False)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    after_calls: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    result: Mapped[str] = mapped_column(Text, default="", nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    provider: Mapped[Provider] = relationship()
    model: Mapped[AIModel | None] = relationship()

    def __repr__(self) -> str:
        return f"<Schedule {self.id} {self.capability} -> {self.model_id} {self.status}>"


class _GroupEntry:
    """The columns a group's ordered list of other models shares: group, place, model."""

    provider_id: Mapped[int] = mapped_column(
        ForeignKey("provider.id", ondelete="CASCADE"), primary_key=True
    )
    capability: Mapped[str] = mapped_column(String(20), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    model_id: Mapped[int] = mapped_column(
        ForeignKey("ai_model.id", ondelete="CASCADE"), nullable=False, index=True
    )


class RoutingFallback(_GroupEntry, db.Model):
    """One fallback of a group, tried in ``position`` order; a model of any provider."""

    __tablename__ = "routing_fallback"
    __table_args__ = (
        CheckConstraint(f"capability IN ({_CAPABILITY_SQL})", name="capability_known"),
        UniqueConstraint("provider_id", "capability", "model_id"),
    )


class RoutingSplit(_GroupEntry, db.Model):
    """One arm of a group's split: another model of the same group and its percent."""

    __tablename__ = "routing_split"
    __table_args__ = (
        CheckConstraint(f"capability IN ({_CAPABILITY_SQL})", name="capability_known"),
        CheckConstraint("percent BETWEEN 1 AND 50", name="percent_range"),
        UniqueConstraint("provider_id", "capability", "model_id"),
    )

    percent: Mapped[int] = mapped_column(Integer, nullable=False)
