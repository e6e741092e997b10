"""usage_call for metering; the service role

Revision ID: 0007_gateway_usage
Revises: 0006_unique_model_id
"""

from alembic import op
import sqlalchemy as sa


revision = "0007_gateway_usage"
down_revision = "0006_unique_model_id"
branch_labels = None
depends_on = None

OLD_ROLES = "role IN ('viewer', 'operator', 'admin', 'superadmin')"
NEW_ROLES = "role IN ('viewer', 'operator', 'admin', 'superadmin', 'service')"


def upgrade():
    op.create_table(
        "usage_call",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=True),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("provider", sa.String(length=50), nullable=True),
        sa.Column("capability", sa.String(length=20), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("route", sa.String(length=16), nullable=True),
        sa.Column("key_source", sa.String(length=16), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("first_chunk_ms", sa.Integer(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_call")),
    )
    with op.batch_alter_table("usage_call", schema=None) as batch_op:
        batch_op.create_index("ix_usage_call_at", ["at"], unique=False)
        batch_op.create_index(
            "ix_usage_call_group_at", ["provider", "capability", "at"], unique=False
        )
        batch_op.create_index("ix_usage_call_model_at", ["model", "at"], unique=False)

    with op.batch_alter_table("admin", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_admin_role_known"), type_="check")
        batch_op.create_check_constraint("role_known", NEW_ROLES)
    _keep_username_index()


def downgrade():
    # The old constraint knows no service role: such accounts become disabled viewers.
    op.execute(
        sa.text(
            "UPDATE admin SET role = 'viewer', is_enabled = :off WHERE role = 'service'"
        ).bindparams(off=False)
    )
    with op.batch_alter_table("admin", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_admin_role_known"), type_="check")
        batch_op.create_check_constraint("role_known", OLD_ROLES)
    _keep_username_index()

    with op.batch_alter_table("usage_call", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_call_model_at")
        batch_op.drop_index("ix_usage_call_group_at")
        batch_op.drop_index("ix_usage_call_at")
    op.drop_table("usage_call")


def _keep_username_index():
    # SQLite's batch mode rebuilds the admin table and drops expression indexes with it:
    # put back the case-insensitive username index (a no-op where it survived).
    op.execute(
        "CREATE UNIQUE INDEX IF NOT EXISTS uq_admin_username_lower ON admin (lower(username))"
    )
