"""Migration 0011_audited_and_paper_ballots: the audited trackers' table and the ballots' channel match the models,
and come and go with the migration."""

from __future__ import annotations

from tests.builders import migrate, rows, schema_differences, table_names

TABLES = {"audited_ballots", "encrypted_ballots"}


def test_the_migration_adds_audited_trackers_and_the_channel_and_removes_them_on_the_way_down(database_url: str) -> None:
    assert TABLES <= table_names(database_url)
    assert schema_differences(database_url, TABLES) == []
    migrate(database_url, "0010_encrypted_ballots", down=True)
    assert "audited_ballots" not in table_names(database_url)
    migrate(database_url, "head")
    assert TABLES <= table_names(database_url)
    assert schema_differences(database_url, TABLES) == []
    assert rows(database_url, "SELECT count(*) FROM audited_ballots") == [(0,)]
