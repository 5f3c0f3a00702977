"""Migration 0006 (web sign-in codes and sessions), both ways, and its tables as the models declare them."""

from __future__ import annotations

from engine.bootstrap import Engine  # noqa: F401 — every model registered on Base
from tests.builders import migrate, rows, run, schema_differences, table_names

TABLES = {"sign_in_codes", "web_sessions"}


def test_the_upgrade_creates_both_tables_as_the_models_declare_them(database_url: str) -> None:
    assert TABLES <= table_names(database_url)
    assert schema_differences(database_url, TABLES) == []


def test_the_downgrade_drops_them_and_keeps_api_tokens(database_url: str) -> None:
    run(database_url, "INSERT INTO communities (id, slug, name, timezone, created_at) VALUES "
                      "(1, 'harmony', 'Harmony', 'Asia/Shanghai', '2026-01-01 00:00:00')")
    run(database_url, "INSERT INTO members (id, community_id, name, roles, created_at) VALUES "
                      "(1, 1, 'alice', '[\"resident\"]', '2026-01-01 00:00:00')")
    run(database_url, "INSERT INTO api_tokens (member_id, token_hash, label, created_at) VALUES "
                      f"(1, '{'a' * 64}', 'demo', '2026-01-01 00:00:00')")
    run(database_url, "INSERT INTO sign_in_codes (member_id, code_hash, created_at, expires_at) VALUES "
                      f"(1, '{'b' * 64}', '2026-01-01 00:00:00', '2026-01-31 00:00:00')")
    migrate(database_url, "0005", down=True)
    assert not TABLES & table_names(database_url)
    assert rows(database_url, "SELECT member_id, label FROM api_tokens") == [(1, "demo")]
    migrate(database_url, "head")
    assert TABLES <= table_names(database_url)
    assert rows(database_url, "SELECT count(*) FROM sign_in_codes") == [(0,)]
