"""server-side sessions, remember-me records, token expiry, case-insensitive usernames

Revision ID: 0004_sessions_and_tokens
Revises: 0003_provider_key_origin
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_sessions_and_tokens'
down_revision = '0003_provider_key_origin'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
