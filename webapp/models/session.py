"""Sign-in sessions kept on the server, so that signing out really ends them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import UTCDateTime, utcnow


class LoginSession(db.Model):
    """One signed-in browser. The cookie (session or remember-me) carries a random key;
    only its SHA-256 is stored here, as the primary key, so checking a request is one
    primary-key lookup and deleting the row ends every copy of that browser's cookies."""

    __tablename__ = "login_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    admin_id: Mapped[int] = mapped_column(
        ForeignKey("admin.id", ondelete="CASCADE"), nullable=False, index=True
    )
    remember: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
