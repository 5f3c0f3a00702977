"""demo clock: one row holding the demo clock's offset, shared by every process of a demo deployment

Revision ID: 0007_demo_clock
Revises: 0006
Create Date: 2026-12-03

Two new tables and nothing else changed: ``demo_clock`` (id 1: the offset in seconds added to system time
in demo mode, and when it was last advanced) and ``demo_clock_advances`` (each advance: who, by how much,
from and to which time). See ``engine/kernel/clock.py`` ``DemoClock``.
The downgrade drops it: a demo deployment's clock returns to system time.
"""

from alembic import op
import sqlalchemy as sa


revision = '0007_demo_clock'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('demo_clock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('offset_seconds', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('demo_clock_advances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('seconds', sa.Integer(), nullable=False),
    sa.Column('from_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('to_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['members.id'], ),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], ),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('demo_clock_advances')
    op.drop_table('demo_clock')
