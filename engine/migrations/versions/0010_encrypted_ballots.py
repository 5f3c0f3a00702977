"""encrypted ballots: an encrypted vote's ceremony, trustees' posts, voters' credentials and encrypted ballots

Revision ID: 0010_encrypted_ballots
Revises: 0009_webhooks
Create Date: 2026-12-20

``votes.secrecy`` (nullable: "encrypted", or NULL for every vote before and every unencrypted vote) and four new
tables (``engine/voting/models.py``, docs/ballot-encryption.md "Integration"): ``vote_ceremonies`` (trustees, k,
state, election descriptor, homomorphic tally), ``ceremony_posts`` (dealings, relayed envelopes, key shares,
complaints, decryption factors), ``voter_credentials`` (credential public keys bound to the frozen electorate) and
``encrypted_ballots`` (ciphertexts, proofs, trackers). Public data only: no trustee secret, no plaintext choice.

The downgrade drops them and the column: every encrypted vote's ballots and ceremony are gone.
"""

from alembic import op
import sqlalchemy as sa


revision = '0010_encrypted_ballots'
down_revision = '0009_webhooks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secrecy', sa.String(length=10), nullable=True))
    op.create_table('vote_ceremonies',
    sa.Column('vote_id', sa.String(length=36), nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=False),
    sa.Column('trustees', sa.JSON(none_as_null=True), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('election', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('fingerprint', sa.String(length=64), nullable=True),
    sa.Column('tally', sa.JSON(none_as_null=True), nullable=True),
    sa.ForeignKeyConstraint(['vote_id'], ['votes.id'], ),
    sa.PrimaryKeyConstraint('vote_id')
    )
    op.create_table('ceremony_posts',
    sa.Column('vote_id', sa.String(length=36), nullable=False),
    sa.Column('trustee', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('recipient', sa.Integer(), nullable=False),
    sa.Column('body', sa.JSON(none_as_null=True), nullable=False),
    sa.ForeignKeyConstraint(['vote_id'], ['votes.id'], ),
    sa.PrimaryKeyConstraint('vote_id', 'trustee', 'kind', 'recipient')
    )
    op.create_table('voter_credentials',
    sa.Column('vote_id', sa.String(length=36), nullable=False),
    sa.Column('voter_key', sa.String(length=120), nullable=False),
    sa.Column('credential', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['vote_id'], ['votes.id'], ),
    sa.PrimaryKeyConstraint('vote_id', 'voter_key'),
    sa.UniqueConstraint('vote_id', 'credential')
    )
    op.create_table('encrypted_ballots',
    sa.Column('vote_id', sa.String(length=36), nullable=False),
    sa.Column('tracker', sa.String(length=64), nullable=False),
    sa.Column('credential', sa.String(length=64), nullable=False),
    sa.Column('ballot', sa.JSON(none_as_null=True), nullable=False),
    sa.Column('weight', sa.String(length=40), nullable=False),
    sa.Column('replaced', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['vote_id'], ['votes.id'], ),
    sa.PrimaryKeyConstraint('vote_id', 'tracker'),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('encrypted_ballots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_encrypted_ballots_credential'), ['credential'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('encrypted_ballots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_encrypted_ballots_credential'))
    op.drop_table('encrypted_ballots')
    op.drop_table('voter_credentials')
    op.drop_table('ceremony_posts')
    op.drop_table('vote_ceremonies')
    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.drop_column('secrecy')
