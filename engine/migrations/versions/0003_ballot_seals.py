"""keyed ballot seals, receipt tags, replaced ballots, the electorate's digest

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

What a participation kept of its requests (``idempotency_hash``, ``request_hash``,
``sealed_receipt``) was hashed without a key: a dictionary of the few possible choices decoded
every ballot cast with an idempotency key. Those digests cannot be re-keyed (the keys that made
them were never stored), so they are cleared: a request made before the upgrade can no longer be
retried for its receipt (a retry is refused as a second ballot, with a clear message; the voter
keeps the receipt they were given). Nothing else is lost.

Votes opened before the upgrade have no electorate digest and their ballots no receipt tag:
their electorates are checked by count and weight only, and their ballots change with any of the
vote's current receipts, as before. Ballots replaced before the upgrade left no fingerprint
behind, so the audit compares the replaced fingerprints with the change counts only for votes
opened after it.
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('replaced_ballots',
    sa.Column('vote_id', sa.String(length=36), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['vote_id'], ['votes.id'], ),
    sa.PrimaryKeyConstraint('vote_id', 'fingerprint'),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('participations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_tag', sa.String(length=64), nullable=True))
    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('electorate_digest', sa.String(length=64), nullable=True))
    participations = sa.table('participations', sa.column('idempotency_hash', sa.String), sa.column('request_hash', sa.String),
                              sa.column('sealed_receipt', sa.String))
    op.execute(participations.update().values(idempotency_hash=None, request_hash=None, sealed_receipt=None))


def downgrade() -> None:
    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.drop_column('electorate_digest')
    with op.batch_alter_table('participations', schema=None) as batch_op:
        batch_op.drop_column('receipt_tag')
    op.drop_table('replaced_ballots')
