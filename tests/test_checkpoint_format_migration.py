"""Migration 0005 (checkpoint formats), both ways: checkpoints signed before it stay of format 1."""

from __future__ import annotations

import pytest

from tests.builders import migrate, rows, run


def checkpoint(id: int, columns: str = "", values: str = "") -> str:
    return (f"INSERT INTO checkpoints (id, at, reason, heads, root, previous, key_id, signature{columns}) VALUES "
            f"({id}, '2026-01-01 00:00:00', 'periodic', '[]', '{'0' * 64}', '{'0' * 64}', 'k', 's'{values})")


def test_checkpoints_signed_before_are_of_format_1_and_the_downgrade_keeps_them(database_url: str) -> None:
    migrate(database_url, "0004", down=True)
    run(database_url, checkpoint(1))
    migrate(database_url, "head")
    assert rows(database_url, "SELECT id, format, communities, blinding FROM checkpoints") == [(1, 1, None, None)]
    migrate(database_url, "0004", down=True)
    assert rows(database_url, "SELECT id, reason FROM checkpoints") == [(1, "periodic")]
    migrate(database_url, "head")


def test_the_downgrade_refuses_while_a_checkpoint_of_format_2_exists(database_url: str) -> None:
    run(database_url, checkpoint(1, ", format, communities, blinding", f", 2, '[1]', '{'1' * 64}'"))
    with pytest.raises(RuntimeError, match="format 2"):
        migrate(database_url, "0004", down=True)
    assert rows(database_url, "SELECT id, format FROM checkpoints") == [(1, 2)]
