"""health_check: the last health check of each live group

Revision ID: 0010_health_checks
Revises: 0009_usage_rollup
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_health_checks"
down_revision = "0009_usage_rollup"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "health_check",
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("capability", sa.String(length=20), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error_kind", sa.String(length=32), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["provider.id"],
            name=op.f("fk_health_check_provider_id_provider"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("provider_id", "capability", name=op.f("pk_health_check")),
    )


def downgrade():
    op.drop_table("health_check")
