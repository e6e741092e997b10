"""Traffic policies: scheduled switches, fallbacks and splits of a group

Revision ID: 0008_traffic_policies
Revises: 0007_gateway_usage
"""

import sqlalchemy as sa
from alembic import op

CAPABILITY_KNOWN = (
    "capability IN ('chat', 'code', 'image', 'embedding', 'vision', 'transcription', 'speech')"
)

revision = "0008_traffic_policies"
down_revision = "0007_gateway_usage"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "routing_fallback",
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("capability", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            CAPABILITY_KNOWN,
            name=op.f("ck_routing_fallback_capability_known"),
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["ai_model.id"],
            name=op.f("fk_routing_fallback_model_id_ai_model"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["provider.id"],
            name=op.f("fk_routing_fallback_provider_id_provider"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "provider_id", "capability", "position", name=op.f("pk_routing_fallback")
        ),
        sa.UniqueConstraint(
            "provider_id",
            "capability",
            "model_id",
            name=op.f("uq_routing_fallback_provider_id_capability_model_id"),
        ),
    )
    with op.batch_alter_table("routing_fallback", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_routing_fallback_model_id"), ["model_id"], unique=False
        )

    op.create_table(
        "routing_split",
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("capability", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            CAPABILITY_KNOWN,
            name=op.f("ck_routing_split_capability_known"),
        ),
        sa.CheckConstraint("percent BETWEEN 1 AND 50", name=op.f("ck_routing_split_percent_range")),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["ai_model.id"],
            name=op.f("fk_routing_split_model_id_ai_model"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["provider.id"],
            name=op.f("fk_routing_split_provider_id_provider"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "provider_id", "capability", "position", name=op.f("pk_routing_split")
        ),
        sa.UniqueConstraint(
            "provider_id",
            "capability",
            "model_id",
            name=op.f("uq_routing_split_provider_id_capability_model_id"),
        ),
    )
    with op.batch_alter_table("routing_split", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_routing_split_model_id"), ["model_id"], unique=False)

    op.create_table(
        "schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("capability", sa.String(length=20), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("clears", sa.Boolean(), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("after_calls", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            CAPABILITY_KNOWN,
            name=op.f("ck_schedule_capability_known"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'done', 'failed', 'cancelled')",
            name=op.f("ck_schedule_status_known"),
        ),
        sa.CheckConstraint(
            "after_calls IS NULL OR after_calls > 0", name=op.f("ck_schedule_after_calls_positive")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["admin.id"],
            name=op.f("fk_schedule_created_by_id_admin"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["ai_model.id"],
            name=op.f("fk_schedule_model_id_ai_model"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["provider.id"],
            name=op.f("fk_schedule_provider_id_provider"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule")),
    )
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.create_index("ix_schedule_group", ["provider_id", "capability"], unique=False)
        batch_op.create_index(batch_op.f("ix_schedule_model_id"), ["model_id"], unique=False)
        batch_op.create_index("ix_schedule_status_run_at", ["status", "run_at"], unique=False)


def downgrade():
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.drop_index("ix_schedule_status_run_at")
        batch_op.drop_index(batch_op.f("ix_schedule_model_id"))
        batch_op.drop_index("ix_schedule_group")

    op.drop_table("schedule")
    with op.batch_alter_table("routing_split", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_routing_split_model_id"))

    op.drop_table("routing_split")
    with op.batch_alter_table("routing_fallback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_routing_fallback_model_id"))

    op.drop_table("routing_fallback")
