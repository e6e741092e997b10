"""durable cache invalidation: a generation counter in the database

Revision ID: 0005_cache_generation
Revises: 0004_sessions_and_tokens
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_cache_generation'
down_revision = '0004_sessions_and_tokens'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        'cache_generation',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('generation', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_cache_generation')),
    )
    op.bulk_insert(table, [{'id': 1, 'generation': 0}])


def downgrade():
    op.drop_table('cache_generation')
