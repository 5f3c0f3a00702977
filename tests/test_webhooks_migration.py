"""Migration 0009_webhooks: the tables match the models, and come and go with the migration."""

from __future__ import annotations

from tests.builders import migrate, rows, schema_differences, table_names

TABLES = {"webhook_subscriptions", "webhook_deliveries", "webhook_attempts"}


def test_the_migration_creates_the_webhooks_tables_and_drops_them_on_the_way_down(database_url: str) -> None:
    assert TABLES <= table_names(database_url)
    assert schema_differences(database_url, TABLES) == []
    migrate(database_url, "0008_notification_reads", down=True)
    assert not TABLES & table_names(database_url)
    migrate(database_url, "head")
    assert TABLES <= table_names(database_url)
    assert rows(database_url, "SELECT count(*) FROM webhook_deliveries") == [(0,)]
