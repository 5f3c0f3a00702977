"""SQLite as the engine writes to it: units of work take turns, and each commit is durable before it is answered."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from engine.kernel import db as db_module
from engine.identity import members
from engine.kernel.clock import ManualClock
from engine.kernel.db import Database
from engine.kernel.unit_of_work import UnitOfWork

CLOCK = ManualClock(datetime(2026, 3, 1, tzinfo=timezone.utc))


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'yishi.sqlite3'}")
    database.migrate()
    yield database
    database.dispose()


def _fsynced_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


def test_a_commit_is_synced_after_the_writers_turn_and_before_the_unit_returns(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps: list[Any] = []
    real_fsync, real_release = os.fsync, database.writer_lock.release
    monkeypatch.setattr(db_module.os, "fsync", lambda fd: (steps.append(("fsync", _fsynced_path(fd))), real_fsync(fd)))
    monkeypatch.setattr(database.writer_lock, "release", lambda: (steps.append("turn over"), real_release()))

    with UnitOfWork(database, CLOCK) as uow:
        members.create_community(uow.session, "harmony", "Harmony", "Asia/Shanghai", uow.now)
        uow.commit()
        steps.append("committed")
    steps.append("returned")

    assert steps == ["committed", "turn over", ("fsync", f"{database.url.removeprefix('sqlite:///')}-wal"), "returned"]


def test_a_unit_that_fails_syncs_nothing(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    monkeypatch.setattr(db_module.os, "fsync", synced.append)
    with pytest.raises(RuntimeError), UnitOfWork(database, CLOCK) as uow:
        members.create_community(uow.session, "harmony", "Harmony", "Asia/Shanghai", uow.now)
        raise RuntimeError("the command failed")
    assert synced == []
    with database.session() as session:
        assert session.execute(text("SELECT count(*) FROM communities")).scalar_one() == 0


def test_commits_leave_the_sync_to_the_unit_and_writers_begin_as_the_writer(database: Database) -> None:
    """``synchronous=NORMAL`` (1) on every connection; a unit's transaction holds the write lock from its start."""
    with database.writer.connect() as writer, database.engine.connect() as reader:
        for connection in (writer, reader):
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar_one() == 1
    with UnitOfWork(database, CLOCK) as uow:
        uow.session.execute(text("SELECT 1"))  # a read only, yet the database is already the unit's to write
        with database.engine.connect() as other:
            other.exec_driver_sql("PRAGMA busy_timeout=0")
            with pytest.raises(OperationalError, match="locked"):
                other.exec_driver_sql("BEGIN IMMEDIATE")
            other.rollback()
