"""One row per metered AI call (docs/CONTRACTS.md §10): who, what, how it went, how long.

Never the prompt, the answer or the key. ``admin_id`` and ``token_id`` are plain
numbers, not foreign keys: rows are written in batches after the call, and a batch
must not fail (nor the table need locking) because an admin or token went away
in between; the usage history outlives them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import UTCDateTime, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY.
_ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


class UsageCall(db.Model):
    __tablename__ = "usage_call"
    __table_args__ = (
        # The usage API and the overview ask "this group (or model) over this time range".
        Index("ix_usage_call_group_at", "provider", "capability", "at"),
        Index("ix_usage_call_model_at", "model", "at"),
    )

    id: Mapped[int] = mapped_column(_ROW_ID, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False, index=True)
    origin: Mapped[str] = mapped_column(String(16), nullable=False)  # gateway | service
    admin_id: Mapped[int | None] = mapped_column(nullable=True)
    token_id: Mapped[int | None] = mapped_column(nullable=True)
    provider: Mapped[str | None] = mapped_column(String(50), nullable=True)
    capability: Mapped[str | None] = mapped_column(String(20), nullable=True)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    route: Mapped[str | None] = mapped_column(String(16), nullable=True)
    key_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    outcome: Mapped[str] = mapped_column(String(32), nullable=False)  # ok or the error kind
    http_status: Mapped[int | None] = mapped_column(nullable=True)
    latency_ms: Mapped[int] = mapped_column(nullable=False)
    first_chunk_ms: Mapped[int | None] = mapped_column(nullable=True)
    prompt_tokens: Mapped[int | None] = mapped_column(nullable=True)
    completion_tokens: Mapped[int | None] = mapped_column(nullable=True)

    def __repr__(self) -> str:
        return f"<UsageCall {self.provider}/{self.model} {self.outcome}>"
