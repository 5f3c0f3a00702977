"""Migration 0012_ceremony_rounds: the key generation's rounds (``ceremony_posts.round`` in the primary key), the
disqualified trustees and the complaint deadline match the models, and come and go with the migration."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect

from tests.builders import migrate, schema_differences, table_names

TABLES = {"ceremony_posts", "vote_ceremonies"}


def layout(url: str) -> tuple[list[str], set[str]]:
    """The posts' primary key columns, and the ceremony's columns."""
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        return (inspector.get_pk_constraint("ceremony_posts")["constrained_columns"],
                {c["name"] for c in inspector.get_columns("vote_ceremonies")})
    finally:
        engine.dispose()


def test_the_migration_adds_rounds_and_disqualifications_and_removes_them_on_the_way_down(database_url: str) -> None:
    assert TABLES <= table_names(database_url)
    assert schema_differences(database_url, TABLES) == []
    key, columns = layout(database_url)
    assert key == ["vote_id", "round", "trustee", "kind", "recipient"]
    assert {"round", "disqualified", "answer_hours"} <= columns

    migrate(database_url, "0011_audited_and_paper_ballots", down=True)
    key, columns = layout(database_url)
    assert key == ["vote_id", "trustee", "kind", "recipient"]
    assert not {"round", "disqualified", "answer_hours"} & columns
    assert "ceremony_posts_old" not in table_names(database_url)

    migrate(database_url, "head")
    assert schema_differences(database_url, TABLES) == []
    assert layout(database_url)[0] == ["vote_id", "round", "trustee", "kind", "recipient"]
    assert "ceremony_posts_old" not in table_names(database_url)
