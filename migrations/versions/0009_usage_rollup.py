"""usage_hourly: hourly rollups of the metered calls

Revision ID: 0009_usage_rollup
Revises: 0008_traffic_policies
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_usage_rollup"
down_revision = "0008_traffic_policies"
branch_labels = None
depends_on = None

COUNT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SUMS = (
    "calls",
    "errors",
    "fallbacks",
    "prompt_tokens",
    "completion_tokens",
    "latency_sum_ms",
    *(f"lat_{i:02d}" for i in range(30)),
)


def upgrade():
    op.create_table(
        "usage_hourly",
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("capability", sa.String(length=20), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("route", sa.String(length=16), nullable=False),
        sa.Column("key_source", sa.String(length=16), nullable=False),
        *(sa.Column(name, COUNT, nullable=False) for name in SUMS),
        sa.PrimaryKeyConstraint(
            "bucket_start",
            "provider",
            "capability",
            "model",
            "route",
            "key_source",
            name=op.f("pk_usage_hourly"),
        ),
    )
    with op.batch_alter_table("usage_hourly", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_hourly_provider_model", ["provider", "model", "bucket_start"], unique=False
        )
    # Calls metered before this revision are folded in once, hour by hour.
    _backfill()


def _backfill():
    hour = (
        "date_trunc('hour', at)"
        if op.get_bind().dialect.name == "postgresql"
        else "strftime('%Y-%m-%d %H:00:00.000000', at)"
    )
    edges = [1.0 * 120000.0 ** (i / 29) for i in range(30)]
    cases = []
    for i in range(30):
        low = f"latency_ms > {edges[i - 1]!r} AND " if i else ""
        high = f"latency_ms <= {edges[i]!r}" if i < 29 else "1 = 1"
        cases.append(f"SUM(CASE WHEN {low}{high} THEN 1 ELSE 0 END)")
    op.execute(
        "INSERT INTO usage_hourly (bucket_start, provider, capability, model, route, key_source, "
        + ", ".join(SUMS)
        + f") SELECT {hour}, COALESCE(provider, ''), COALESCE(capability, ''), "
        "COALESCE(model, ''), COALESCE(route, ''), COALESCE(key_source, ''), COUNT(*), "
        "SUM(CASE WHEN outcome <> 'ok' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN route = 'fallback' THEN 1 ELSE 0 END), "
        "COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), SUM(latency_ms), "
        + ", ".join(cases)
        + f" FROM usage_call GROUP BY {hour}, COALESCE(provider, ''), COALESCE(capability, ''), "
        "COALESCE(model, ''), COALESCE(route, ''), COALESCE(key_source, '')"
    )


def downgrade():
    with op.batch_alter_table("usage_hourly", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_hourly_provider_model")
    op.drop_table("usage_hourly")
