"""definitions owned by a community or by the platform; what each community runs, adopted explicitly

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

Every definition deployed so far was shared by all communities: it becomes the platform's
(``community_id`` NULL). Versions are now numbered per owner and key, so the unique (key, version)
becomes (community_id, key, version), with a partial unique index keeping the platform's own
numbering unique (NULLs are distinct in a unique constraint).

Until now every community ran the newest version of a key. So that a platform version deployed
after the upgrade does not change what a community runs unasked, each existing community adopts,
for every key, the newest version as of the upgrade (``adopted_by`` NULL: pinned, not chosen).

The downgrade refuses while a community owns definitions: back in a shared namespace their version
numbers would collide with the platform's, and the instances that ran them would lose their owner.
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_UNNAMED = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
"""0001 left the unique (key, version) unnamed; SQLite's batch mode reflects it under this name."""


def _old_unique(bind: sa.Connection) -> str:
    return "uq_definitions_key" if bind.dialect.name == "sqlite" else "definitions_key_version_key"


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table('definitions', schema=None, naming_convention=_UNNAMED) as batch_op:
        batch_op.add_column(sa.Column('community_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_definitions_community_id_communities', 'communities', ['community_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_definitions_community_id'), ['community_id'], unique=False)
        batch_op.drop_constraint(_old_unique(bind), type_='unique')
        batch_op.create_unique_constraint('uq_definitions_community_id', ['community_id', 'key', 'version'])
    op.create_index('uq_platform_definition_versions', 'definitions', ['key', 'version'], unique=True,
                    sqlite_where=sa.text('community_id IS NULL'), postgresql_where=sa.text('community_id IS NULL'))
    op.create_table('definition_adoptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('definition_id', sa.Integer(), nullable=False),
    sa.Column('adopted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('adopted_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['adopted_by'], ['members.id'], ),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], ),
    sa.ForeignKeyConstraint(['definition_id'], ['definitions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('community_id', 'kind', 'key', 'number')
    )
    with op.batch_alter_table('definition_adoptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_definition_adoptions_community_id'), ['community_id'], unique=False)
    op.execute(sa.text(
        "INSERT INTO definition_adoptions (community_id, kind, key, number, definition_id, adopted_at, adopted_by) "
        "SELECT c.id, d.kind, d.key, 1, d.id, CURRENT_TIMESTAMP, NULL FROM communities c CROSS JOIN definitions d "
        "WHERE d.version = (SELECT max(n.version) FROM definitions n WHERE n.key = d.key AND n.kind = d.kind)"
    ))


def downgrade() -> None:
    bind = op.get_bind()
    owned = bind.execute(sa.text("SELECT count(*) FROM definitions WHERE community_id IS NOT NULL")).scalar()
    if owned:
        raise RuntimeError(f"{owned} definition versions belong to communities: they have no place in the shared "
                           "namespace of revision 0003; delete them (and their instances) first")
    with op.batch_alter_table('definition_adoptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_definition_adoptions_community_id'))
    op.drop_table('definition_adoptions')
    op.drop_index('uq_platform_definition_versions', table_name='definitions')
    with op.batch_alter_table('definitions', schema=None) as batch_op:
        batch_op.drop_constraint('uq_definitions_community_id', type_='unique')
        batch_op.create_unique_constraint(_old_unique(bind),
                                          ['key', 'version'])
        batch_op.drop_index(batch_op.f('ix_definitions_community_id'))
        batch_op.drop_constraint('fk_definitions_community_id_communities', type_='foreignkey')
        batch_op.drop_column('community_id')
