"""key generation rounds: complaints answered, dealers disqualified, the ceremony restarted without them

Revision ID: 0012_ceremony_rounds
Revises: 0011_audited_and_paper_ballots
Create Date: 2026-12-08

docs/ballot-encryption.md §4 step 2: a dealer whose share fails is disqualified and the whole key generation starts
again without them. ``ceremony_posts.round`` (in the primary key) keeps each round's posts apart — the old round's
stay, as the evidence of the disqualification — and ``vote_ceremonies`` gains its current ``round``, the
``disqualified`` trustee numbers and ``answer_hours`` (how long a dealer has to answer a complaint). Existing posts
and ceremonies are round 0, nobody disqualified, 24 hours.

The primary key changes, so ``ceremony_posts`` is rebuilt (the same on SQLite and PostgreSQL, constraints named as
a fresh database names them). The downgrade keeps round 0's posts only: a restarted ceremony's later rounds are gone.
"""

from alembic import op
import sqlalchemy as sa


revision = '0012_ceremony_rounds'
down_revision = '0011_audited_and_paper_ballots'
branch_labels = None
depends_on = None

COLUMNS = "vote_id, trustee, kind, recipient, body"


def _posts_table(name: str, with_round: bool) -> None:
    key = ['vote_id', 'round', 'trustee', 'kind', 'recipient'] if with_round else ['vote_id', 'trustee', 'kind', 'recipient']
    op.create_table(name,
    sa.Column('vote_id', sa.String(length=36), nullable=False),
    *([sa.Column('round', sa.Integer(), server_default='0', nullable=False)] if with_round else []),
    sa.Column('trustee', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('recipient', sa.Integer(), nullable=False),
    sa.Column('body', sa.JSON(none_as_null=True), nullable=False),
    sa.ForeignKeyConstraint(['vote_id'], ['votes.id'], name='ceremony_posts_vote_id_fkey'),
    sa.PrimaryKeyConstraint(*key, name='ceremony_posts_pkey')
    )


def _rebuild(with_round: bool, where: str) -> None:
    op.rename_table('ceremony_posts', 'ceremony_posts_old')
    if op.get_bind().dialect.name == 'postgresql':  # names are per schema there: free them for the new table
        op.execute('ALTER TABLE ceremony_posts_old RENAME CONSTRAINT ceremony_posts_pkey TO ceremony_posts_old_pkey')
        op.execute('ALTER TABLE ceremony_posts_old RENAME CONSTRAINT ceremony_posts_vote_id_fkey TO ceremony_posts_old_vote_id_fkey')
    _posts_table('ceremony_posts', with_round)
    op.execute(f'INSERT INTO ceremony_posts ({COLUMNS}) SELECT {COLUMNS} FROM ceremony_posts_old {where}')
    op.drop_table('ceremony_posts_old')


def upgrade() -> None:
    _rebuild(with_round=True, where='')
    with op.batch_alter_table('vote_ceremonies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('round', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('disqualified', sa.JSON(none_as_null=True), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('answer_hours', sa.Integer(), server_default='24', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('vote_ceremonies', schema=None) as batch_op:
        batch_op.drop_column('answer_hours')
        batch_op.drop_column('disqualified')
        batch_op.drop_column('round')
    _rebuild(with_round=False, where='WHERE round = 0')
