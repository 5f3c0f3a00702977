"""notification reads: each member's read marker for their in-app notifications

Revision ID: 0008_notification_reads
Revises: 0006
Create Date: 2026-12-03

One new table and nothing else changed: ``notification_reads``, a row per member holding the moment up to which
they have read their notifications (``engine/kernel/notifications.py``). The notifications themselves are derived
from each domain's rows, not stored.

The downgrade drops it: every member's notifications show as unread again.
"""

from alembic import op
import sqlalchemy as sa


revision = '0008_notification_reads'
down_revision = '0007_demo_clock'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notification_reads',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('read_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ),
    sa.PrimaryKeyConstraint('member_id')
    )
    with op.batch_alter_table('notification_reads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_reads_community_id'), ['community_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notification_reads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_reads_community_id'))
    op.drop_table('notification_reads')
