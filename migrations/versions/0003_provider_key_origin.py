"""bind personal keys to the provider origin they were saved for

Revision ID: 0003_provider_key_origin
Revises: 0002_group_index
"""

from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = "0003_provider_key_origin"
down_revision = "0002_group_index"
branch_labels = None
depends_on = None

DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url):
    """scheme://host:port, as webapp.ai.egress.origin writes it (kept here so the
    migration does not change when the application does)."""
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if not scheme or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port or DEFAULT_PORTS.get(scheme, 0)}"


def upgrade():
    with op.batch_alter_table("admin_provider_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("personal_api_key_origin", sa.String(length=500), nullable=True)
        )
    # Keys saved before the binding existed are bound to their provider's present address.
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT s.id, p.base_url FROM admin_provider_settings s "
            "JOIN provider p ON p.id = s.provider_id "
            "WHERE s.personal_api_key_encrypted IS NOT NULL"
        )
    ).all()
    for settings_id, base_url in rows:
        bind.execute(
            sa.text(
                "UPDATE admin_provider_settings SET personal_api_key_origin = :o WHERE id = :i"
            ),
            {"o": _origin(base_url), "i": settings_id},
        )


def downgrade():
    with op.batch_alter_table("admin_provider_settings", schema=None) as batch_op:
        batch_op.drop_column("personal_api_key_origin")
