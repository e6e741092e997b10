"""one model id per provider

Revision ID: 0006_unique_model_id
Revises: 0005_cache_generation
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_unique_model_id'
down_revision = '0005_cache_generation'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
