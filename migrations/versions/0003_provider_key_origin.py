"""bind personal keys to the provider origin they were saved for

Revision ID: 0003_provider_key_origin
Revises: 0002_group_index
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_provider_key_origin'
down_revision = '0002_group_index'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
