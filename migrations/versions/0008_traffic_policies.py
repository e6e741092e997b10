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


def _create_routing_table(name, extra_columns=(), extra_checks=None):
    """A group's ordered list of models (its fallbacks, or its split's arms), each model
    at most once, with the index on ``model_id``; ``extra_checks`` maps a check's name
    (after the table's) to its condition."""
    op.create_table(
        name,
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("capability", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        *extra_columns,
        sa.CheckConstraint(CAPABILITY_KNOWN, name=op.f(f"ck_{name}_capability_known")),
        *(
            sa.CheckConstraint(condition, name=op.f(f"ck_{name}_{check}"))
            for check, condition in (extra_checks or {}).items()
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["ai_model.id"],
            name=op.f(f"fk_{name}_model_id_ai_model"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["provider.id"],
            name=op.f(f"fk_{name}_provider_id_provider"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("provider_id", "capability", "position", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint(
            "provider_id",
            "capability",
            "model_id",
            name=op.f(f"uq_{name}_provider_id_capability_model_id"),
        ),
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{name}_model_id"), ["model_id"], unique=False)


def upgrade():
    _create_routing_table("routing_fallback")
    _create_routing_table(
        "routing_split",
        extra_columns=[sa.Column("percent", sa.Integer(), nullable=False)],
        extra_checks={"percent_range": "percent BETWEEN 1 AND 50"},
    )

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
    for name in ("routing_split", "routing_fallback"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{name}_model_id"))
        op.drop_table(name)
