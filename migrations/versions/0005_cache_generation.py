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
    pass


def downgrade():
    pass
