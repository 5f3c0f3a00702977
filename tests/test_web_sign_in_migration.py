"""Migration 0006 (web sign-in codes and sessions), both ways, and its tables as the models declare them."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from engine.bootstrap import Engine  # noqa: F401 — every model registered on Base
from engine.kernel.models import Base
from tests.test_definition_owners_migration import migrate, rows, run

TABLES = {"sign_in_codes", "web_sessions"}


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def differences(url: str) -> list[object]:
    """What autogenerate would change in the two tables to match the models (nothing, when 0006 is right)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()

    def table_of(diff: object) -> str | None:
        item = diff[0] if isinstance(diff, list) else diff
        for part in item[1:] if isinstance(item, tuple) else ():
            name = getattr(part, "name", None) if not isinstance(part, str) else part
            table = getattr(part, "table", None)
            if table is not None and getattr(table, "name", None) in TABLES:
                return table.name
            if name in TABLES:
                return name
        return None

    return [diff for diff in diffs if table_of(diff) is not None]


def test_the_upgrade_creates_both_tables_as_the_models_declare_them(database_url: str) -> None:
    assert TABLES <= tables(database_url)
    assert differences(database_url) == []


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
    assert not TABLES & tables(database_url)
    assert rows(database_url, "SELECT member_id, label FROM api_tokens") == [(1, "demo")]
    migrate(database_url, "head")
    assert TABLES <= tables(database_url)
    assert rows(database_url, "SELECT count(*) FROM sign_in_codes") == [(0,)]
