"""The last health check of each live group (docs/USAGE.md, "Health"): the providers
page's test connection, run for a group by «بررسی اکنون» on the overview or by the
scheduler's periodic check. One row per (provider, capability), replaced by each check:
the overview shows the latest result, the trend is in the metered calls.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import UTCDateTime, utcnow


class HealthCheck(db.Model):
    __tablename__ = "health_check"

    provider_id: Mapped[int] = mapped_column(
        ForeignKey("provider.id", ondelete="CASCADE"), primary_key=True
    )
    capability: Mapped[str] = mapped_column(String(20), primary_key=True)
    # The live model when checked, by name: the row outlives a switch or a deletion.
    model: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    ok: Mapped[bool] = mapped_column(Boolean, nullable=False)
    latency_ms: Mapped[int] = mapped_column(nullable=False, default=0)
    error_kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    message: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # Who asked: an admin's id, or NULL for the scheduler (not a foreign key: see usage_call).
    checked_by_id: Mapped[int | None] = mapped_column(nullable=True)

    def __repr__(self) -> str:
        return f"<HealthCheck {self.provider_id}/{self.capability} ok={self.ok}>"
