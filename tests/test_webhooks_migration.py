"""Migration 0009_webhooks: the tables match the models, and come and go with the migration."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from engine.kernel.models import Base
from tests.builders import migrate, rows

TABLES = {"webhook_subscriptions", "webhook_deliveries", "webhook_attempts"}


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def differences(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    return [diff for diff in diffs if "webhook" in repr(diff)]


def test_the_migration_creates_the_webhooks_tables_and_drops_them_on_the_way_down(database_url: str) -> None:
    assert TABLES <= tables(database_url)
    assert differences(database_url) == []
    migrate(database_url, "0008_notification_reads", down=True)
    assert not TABLES & tables(database_url)
    migrate(database_url, "head")
    assert TABLES <= tables(database_url)
    assert rows(database_url, "SELECT count(*) FROM webhook_deliveries") == [(0,)]
