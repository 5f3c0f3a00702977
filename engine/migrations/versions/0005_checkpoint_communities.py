"""checkpoints of format 2: a tree per community under a blinded tree, so no community learns another's size

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Every checkpoint signed so far is of format 1 (one tree over every community's heads, its size in
the signed statement) and stays so: its signature covers that shape. New checkpoints are of
format 2 and keep the ids of the communities they cover and the secret their blinding derives from.

The downgrade refuses while a format 2 checkpoint exists: revision 0004 would read it as format 1,
and every one of its proofs would fail.
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('checkpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('format', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('communities', sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column('blinding', sa.String(length=64), nullable=True))


def downgrade() -> None:
    newer = op.get_bind().execute(sa.text("SELECT count(*) FROM checkpoints WHERE format <> 1")).scalar()
    if newer:
        raise RuntimeError(f"{newer} checkpoints are of format 2, which revision 0004 cannot read: "
                           "they would all fail verification there")
    with op.batch_alter_table('checkpoints', schema=None) as batch_op:
        batch_op.drop_column('blinding')
        batch_op.drop_column('communities')
        batch_op.drop_column('format')
