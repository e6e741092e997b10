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


def _refuse_case_duplicates():
    """Usernames become unique whatever their case; two existing accounts that differ
    only in case must be merged or renamed by a person first."""
    rows = op.get_bind().execute(
        sa.text(
            "SELECT lower(username), count(*) FROM admin "
            "GROUP BY lower(username) HAVING count(*) > 1 ORDER BY 1"
        )
    ).all()
    if rows:
        names = ", ".join(f"{name!r} ({count} accounts)" for name, count in rows)
        raise RuntimeError(
            "Usernames are now case-insensitive, but these admins differ only in case: "
            f"{names}. Rename or delete all but one of each, e.g. with SQL "
            "(UPDATE admin SET username = 'new-name' WHERE id = ...), then run "
            "'flask db upgrade' again. Nothing was changed."
        )


def upgrade():
    _refuse_case_duplicates()
    op.create_table('login_session',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('admin_id', sa.Integer(), nullable=False),
    sa.Column('remember', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['admin_id'], ['admin.id'], name=op.f('fk_login_session_admin_id_admin'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_session'))
    )
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_session_admin_id'), ['admin_id'], unique=False)

    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))

    # An expression index: created outside batch mode (SQLite has CREATE INDEX on lower()).
    op.create_index('uq_admin_username_lower', 'admin', [sa.text('lower(username)')], unique=True)


def downgrade():
    op.drop_index('uq_admin_username_lower', table_name='admin')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_session_admin_id'))
    op.drop_table('login_session')
