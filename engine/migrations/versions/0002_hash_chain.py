"""hash-chained events, record bindings, signed checkpoints

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Existing histories are chained in place: each instance gets a fresh salt and every event its
hash, in sequence order. Records written before this revision are not bound to any event (no
event said which it wrote); an audit reports them as unbound rather than guessing.
"""

from alembic import op
import sqlalchemy as sa

from engine.audit.sealing import chain


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('salt', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('head_hash', sa.String(length=64), nullable=False, server_default=chain.GENESIS))
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('records', sa.JSON(none_as_null=True), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=False, server_default=''))
    op.create_table('checkpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('heads', sa.JSON(none_as_null=True), nullable=False),
    sa.Column('root', sa.String(length=64), nullable=False),
    sa.Column('previous', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    _chain_existing_histories()


def downgrade() -> None:
    op.drop_table('checkpoints')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('records')
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_column('head_hash')
        batch_op.drop_column('salt')


def _chain_existing_histories() -> None:
    connection = op.get_bind()
    instances = sa.table('instances', sa.column('id', sa.String), sa.column('salt', sa.String), sa.column('head_hash', sa.String))
    events = sa.table(
        'events', sa.column('id', sa.Integer), sa.column('instance_id', sa.String), sa.column('seq', sa.Integer),
        sa.column('type', sa.String), sa.column('actor_id', sa.Integer), sa.column('at', sa.DateTime(timezone=True)),
        sa.column('input', sa.JSON), sa.column('state_digest', sa.String), sa.column('error', sa.JSON),
        sa.column('services', sa.JSON), sa.column('prev_hash', sa.String), sa.column('hash', sa.String),
    )
    for (instance_id,) in connection.execute(sa.select(instances.c.id)).all():
        salt, head = chain.new_salt(), chain.GENESIS
        rows = connection.execute(sa.select(events).where(events.c.instance_id == instance_id).order_by(events.c.seq)).mappings().all()
        for row in rows:
            at = row["at"] if row["at"].tzinfo else row["at"].replace(tzinfo=chain.timezone.utc)
            event = {**row, "at": at, "records": [], "prev_hash": head}
            head = chain.hash_of(salt, event)
            connection.execute(events.update().where(events.c.id == row["id"]).values(prev_hash=event["prev_hash"], hash=head))
        connection.execute(instances.update().where(instances.c.id == instance_id).values(salt=salt, head_hash=head))
