"""Migration 0004 (definition owners), both ways, on a database of revision 0003 holding shared definitions."""

from __future__ import annotations

import pytest

from tests.builders import migrate, rows, run


def definition(key: str, version: int, kind: str = "bpmn") -> str:
    return ("INSERT INTO definitions (key, version, kind, name, filename, sha256, source, spec, deployed_at) VALUES "
            f"('{key}', {version}, '{kind}', '{key}', '{key}.{kind}', '{'0' * 64}', '<x/>', '{{}}', '2026-01-01 00:00:00')")


def test_shared_definitions_become_the_platforms_and_each_community_keeps_running_the_newest(database_url: str) -> None:
    migrate(database_url, "0003", down=True)
    run(database_url, "INSERT INTO communities (id, slug, name, timezone, created_at) VALUES "
                      "(1, 'harmony', 'Harmony', 'Asia/Shanghai', '2026-01-01 00:00:00'), "
                      "(2, 'riverside', 'Riverside', 'Asia/Shanghai', '2026-01-01 00:00:00')")
    for key, version, kind in [("consultation", 1, "bpmn"), ("consultation", 2, "bpmn"), ("quality", 1, "dmn")]:
        run(database_url, definition(key, version, kind))

    migrate(database_url, "head")
    assert rows(database_url, "SELECT key, version FROM definitions WHERE community_id IS NOT NULL") == []
    pinned = rows(database_url, "SELECT a.community_id, a.kind, a.key, a.number, d.version, a.adopted_by "
                                "FROM definition_adoptions a JOIN definitions d ON d.id = a.definition_id "
                                "ORDER BY a.community_id, a.key")
    assert pinned == [(1, "bpmn", "consultation", 1, 2, None), (1, "dmn", "quality", 1, 1, None),
                      (2, "bpmn", "consultation", 1, 2, None), (2, "dmn", "quality", 1, 1, None)]
    run(database_url, definition("consultation", 3))  # the platform's numbering stays unique …
    with pytest.raises(Exception, match="(?i)unique"):
        run(database_url, definition("consultation", 3))

    migrate(database_url, "0003", down=True)
    assert rows(database_url, "SELECT key, version FROM definitions ORDER BY key, version") == [
        ("consultation", 1), ("consultation", 2), ("consultation", 3), ("quality", 1)]
    with pytest.raises(Exception, match="(?i)unique"):  # … and so does the shared one, back at 0003
        run(database_url, definition("consultation", 3))
    migrate(database_url, "head")


def test_the_downgrade_refuses_while_a_community_owns_definitions(database_url: str) -> None:
    run(database_url, "INSERT INTO communities (id, slug, name, timezone, created_at) VALUES "
                      "(1, 'harmony', 'Harmony', 'Asia/Shanghai', '2026-01-01 00:00:00')")
    run(database_url, definition("consultation", 1).replace("(key,", "(community_id, key,").replace("VALUES (", "VALUES (1, "))
    with pytest.raises(RuntimeError, match="belong to communities"):
        migrate(database_url, "0003", down=True)
    assert rows(database_url, "SELECT community_id, version FROM definitions") == [(1, 1)]
