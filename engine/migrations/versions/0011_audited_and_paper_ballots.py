"""audited ballots and the channel of an encrypted ballot

Revision ID: 0011_audited_and_paper_ballots
Revises: 0010_encrypted_ballots
Create Date: 2026-12-21

``audited_ballots``: the trackers of ballots their voters audited instead of casting (docs/ballot-encryption.md
§6, Benaloh's cast-or-audit); a tracker seen audited is never cast. Only the tracker: no voter, no time, no
rowid on SQLite. ``encrypted_ballots.channel``: ``online`` (the voter's device) or ``paper`` (encrypted by a
teller's client as the paper ballot is entered); existing rows are online.

The downgrade drops both: the record of audited trackers and the paper marks are gone.
"""

from alembic import op
import sqlalchemy as sa


revision = '0011_audited_and_paper_ballots'
down_revision = '0010_encrypted_ballots'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audited_ballots',
    sa.Column('vote_id', sa.String(length=36), nullable=False),
    sa.Column('tracker', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['vote_id'], ['votes.id'], ),
    sa.PrimaryKeyConstraint('vote_id', 'tracker'),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('encrypted_ballots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=8), nullable=False, server_default='online'))


def downgrade() -> None:
    with op.batch_alter_table('encrypted_ballots', schema=None) as batch_op:
        batch_op.drop_column('channel')
    op.drop_table('audited_ballots')
