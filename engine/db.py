"""Connecting to the database and bringing its schema up to date (Alembic)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


class Database:
    """An SQLAlchemy engine and the session factory the units of work draw from."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_options)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessions()

    def autocommit(self) -> Connection:
        """A connection for one read statement, without the BEGIN and ROLLBACK a session's transaction
        would add around it (two round trips to PostgreSQL); the bearer-token lookup of every request."""
        return self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        with self.engine.begin() as connection:
            config = alembic_config(self.url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def make_engine(url: str, **options: Any) -> Engine:
    """Create an engine; SQLite gets the pragmas a multi-threaded server needs."""
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, **options)
    event.listen(engine, "checkout", lambda dbapi_connection, record, _proxy: _ping_if_rested(engine, dbapi_connection, record))
    event.listen(engine, "checkin", _note_checkin)
    return engine


PING_AFTER_REST = 1.0
"""Seconds a pooled connection may rest before it is pinged at checkout.

``pool_pre_ping`` would ping at every checkout: two round trips per request (the token lookup and
the command each check one out). A connection back in the pool less than a second ago is taken as
alive; one that rested longer — through a database restart, a network cut, an idle timeout — is
pinged and, if dead, replaced before anyone uses it. A restart under constant load is noticed by
the first statement that fails instead: SQLAlchemy then discards the whole pool, so the requests
in flight at that moment fail, as they would with pre-ping too, and the following ones reconnect."""


def _ping_if_rested(engine: Engine, dbapi_connection: Any, record: Any) -> None:
    checked_in = record.info.get("checked_in_at")
    if checked_in is not None and time.monotonic() - checked_in < PING_AFTER_REST:
        return
    try:
        engine.dialect.do_ping(dbapi_connection)
    except Exception as error:
        if engine.dialect.is_disconnect(error, dbapi_connection, None):
            raise DisconnectionError("a pooled connection was dead; the pool replaces it") from error
        raise


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info["checked_in_at"] = time.monotonic()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Enforce foreign keys, and use WAL so readers never block the writer."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
