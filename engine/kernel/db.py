"""Connecting to the database and bringing its schema up to date (Alembic)."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON, Connection, Engine, Insert, Table, bindparam, create_engine, event, func, insert, literal_column, select, text,
)
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

# PostgreSQL advisory locks that keep several servers and workers on one database from racing.
# The one-key (bigint) and two-key (int, int) forms are separate key spaces in PostgreSQL.
MIGRATION_LOCK = 0x59_49_53_48_49_00_00_01
"""Held (``pg_advisory_xact_lock``) while the schema is upgraded and the bundled processes deployed:
servers and workers that start together take turns instead of creating the same rows twice."""
CHECKPOINT_LOCK = 0x59_49_53_48_49_00_00_02
"""Held while a checkpoint is signed, from reading the previous one to the commit: one chain, whoever signs."""
TIMER_CLAIM = 0x5949_5301
"""The class key of the two-key advisory lock a timer sweep holds on an instance while it fires its timers
(with ``hashtext(id)``; ``claimed``)."""


class Database:
    """The engine for reads and migrations, the one units of work write through, and their sessions."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = url
        sqlite_file = make_url(url).database if _sqlite_file(url) else None
        self.engine = make_engine(url, **engine_options)
        self.writer = make_engine(url, writer=True, **engine_options) if sqlite_file else self.engine
        self.sessions = sessionmaker(self.writer, expire_on_commit=False)
        self._reads = sessionmaker(self.engine, expire_on_commit=False)
        self.writer_lock = WriterLock(Path(f"{sqlite_file}.writer-lock") if sqlite_file else None)
        self._wal = Path(f"{sqlite_file}-wal") if sqlite_file else None
        self.sqlite_file = sqlite_file
        """The SQLite database's file, or None (PostgreSQL, or SQLite in memory)."""
        self._head: str | None = None

    def session(self) -> Session:
        """A session for reading (on SQLite, a snapshot that never waits for the writer)."""
        return self._reads()

    def autocommit(self) -> Connection:
        """A connection for one read statement, without the BEGIN and ROLLBACK a session's transaction
        would add around it (two round trips to PostgreSQL); the bearer-token lookup of every request.
        SQLite is in the process, so its BEGIN costs nothing, and its transactions stay ``SQLiteDialect``'s."""
        connection = self.engine.connect()
        return connection if self.engine.dialect.name == "sqlite" else connection.execution_options(isolation_level="AUTOCOMMIT")

    def sync_wal(self) -> None:
        """Make every SQLite commit so far durable: fsync the write-ahead log (PostgreSQL: nothing to do).

        The connections run with ``synchronous=NORMAL``, so a COMMIT writes the WAL without syncing
        it; a unit of work calls this after its writer's turn and before it answers. Durability is
        the same as ``synchronous=FULL`` — SQLite syncs the WAL before every checkpoint, the database
        after, and the WAL's header before reusing it — but the fsync (0.3 ms here, a third of a
        ballot's turn) no longer holds the other writers back, and overlapping fsyncs cover each
        other's commits: SQLite's group commit. A commit is visible to readers for that moment before
        it is durable; anything written on the strength of it comes later in the same WAL, so it is
        durable only after it. The file is opened anew each time: SQLite deletes the WAL when the last
        connection closes (after checkpointing it, which synced it) and creates a new one.
        """
        if self._wal is None:
            return
        try:
            wal = os.open(self._wal, os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            os.fsync(wal)
        finally:
            os.close(wal)

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (as a writer: the server and the worker may start together;
        on PostgreSQL, several servers and workers take turns under ``MIGRATION_LOCK``)."""
        self.writer_lock.acquire()
        try:
            with self.writer.begin() as connection:
                advisory_xact_lock(connection, MIGRATION_LOCK)
                config = alembic_config(self.url)
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        finally:
            self.writer_lock.release()
        self.sync_wal()

    def revisions(self) -> tuple[str | None, str | None]:
        """(the schema's Alembic revision in the database, the newest this code knows): equal once migrated.
        Raises what the driver raises when the database cannot be reached."""
        if self._head is None:
            self._head = ScriptDirectory.from_config(alembic_config(self.url)).get_current_head()
        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            connection.rollback()
        return current, self._head

    def dispose(self) -> None:
        self.engine.dispose()
        self.writer.dispose()


def advisory_xact_lock(connection: Connection, key: int, *, shared: bool = False) -> None:
    """PostgreSQL: wait for the transaction-scoped advisory lock ``key``, held until this transaction ends; ``shared``
    holders never wait for each other, only for (and hold off) an exclusive one.

    Elsewhere nothing: SQLite's units of work take turns anyway (``WriterLock``, ``BEGIN IMMEDIATE``)."""
    if connection.dialect.name == "postgresql":
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        connection.execute(text(f"SELECT {function}(:key)"), {"key": key})


@contextmanager
def claimed(database: Database, class_key: int, name: str) -> Iterator[bool]:
    """Claim ``name`` (of the kind ``class_key``) for the block, if no other process or thread holds it:
    True inside, and False, at once, when another holds it.

    PostgreSQL: the session-level advisory lock (``class_key``, ``hashtext(name)``), on a connection of
    its own, across every transaction the block runs, released after it (or by the server, should the
    connection die); a collision of two names' hashes only puts one off to the next sweep. SQLite (a
    file): one ``flock`` beside the database for every name of the kind — SQLite writes one at a time
    anyway, so a second claimant simply leaves the work to the first. In memory: always True.
    """
    if database.engine.dialect.name == "postgresql":
        params = {"class_key": class_key, "name": name}
        with database.engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            got = bool(connection.scalar(text("SELECT pg_try_advisory_lock(:class_key, hashtext(:name))"), params))
            try:
                yield got
            finally:
                if got:
                    connection.execute(text("SELECT pg_advisory_unlock(:class_key, hashtext(:name))"), params)
        return
    if database.sqlite_file is None:
        yield True
        return
    descriptor = os.open(f"{database.sqlite_file}.claim-{class_key:x}", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True  # released with the descriptor
    finally:
        os.close(descriptor)


def rows_from_json(table: Table, name: str, columns: Sequence[str] | None = None) -> Insert:
    """PostgreSQL: INSERT into ``table`` the rows of the JSON array bound to ``name``.

    However many rows there are, the statement is the same (one parameter), so it is built once and
    stays in SQLAlchemy's statement cache, and it can ride in another statement's WITH clause, which
    ``executemany`` cannot. Datetimes must be ISO strings (``json_ready``); PostgreSQL reads every
    field as the column's type, a JSON null as NULL. ``columns``: those the rows give (default: all).
    """
    names = list(columns) if columns is not None else [c.name for c in table.c]
    source = func.json_populate_recordset(literal_column(f"NULL::{table.name}"), bindparam(name, type_=JSON)).table_valued(*names)
    return insert(table).from_select(names, select(*(source.c[n] for n in names)))


def json_ready(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for ``rows_from_json``: datetimes as ISO strings (with their offset), everything else as it is."""
    return [{k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()} for row in rows]


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class WriterLock:
    """Queues the units of work of every process on one SQLite database, before their transaction begins.

    SQLite has one writer at a time. A writer that finds the database locked sleeps in SQLite's
    busy handler (1, 2, 5, 10 ms …) and retries, so under load the lock sits free while the
    waiters sleep: measured, half of a 2-core machine idle at 600 ballots/s. An ``flock`` on a
    file beside the database queues them in the kernel instead, which wakes the next one the
    moment the lock is released. A thread lock comes first, because ``flock`` excludes open
    files, not the threads sharing one. Processes that do not take it (an ``sqlite3`` shell) are
    still excluded by SQLite itself, through the busy timeout.
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._threads = threading.Lock()
        self._file: int | None = None
        self._pid = 0

    @property
    def takes_turns(self) -> bool:
        """Whether units of work queue here (a database in a file), rather than meet in the database's locks."""
        return self._path is not None

    def acquire(self) -> None:
        if self._path is None:
            return
        self._threads.acquire()
        try:
            if self._pid != os.getpid():  # a forked child must not share its parent's open file (nor its lock)
                self._file, self._pid = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
            fcntl.flock(self._file, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        if self._path is None:
            return
        assert self._file is not None
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._threads.release()


def make_engine(url: str, *, writer: bool = False, **options: Any) -> Engine:
    """Create an engine; SQLite gets the pragmas a multi-threaded server needs, and real transactions
    (``writer``: each begins as the writer, for the units of work)."""
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        driver = "sqlite+yishi_writer" if writer or not _sqlite_file(url) else "sqlite+yishi"
        engine = create_engine(make_url(url).set(drivername=driver), **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, **options)
    event.listen(engine, "checkout", lambda dbapi_connection, record, _proxy: _ping_if_rested(engine, dbapi_connection, record))
    event.listen(engine, "checkin", _note_checkin)
    return engine


def _sqlite_file(url: str) -> bool:
    """An SQLite database in a file (not in memory): several connections, and processes, share it."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
        and not str(parsed.database).startswith("file:")


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
    """Enforce foreign keys, use WAL so readers never block the writer, leave BEGIN to ``SQLiteDialect``,
    and leave the commits' fsync to ``Database.sync_wal``, after the writer's turn."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class SQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite, with every transaction begun explicitly: reads as a snapshot.

    Left to itself, Python's ``sqlite3`` begins a transaction only at the first INSERT, UPDATE or
    DELETE, so a command's reads ran outside its transaction, and a ballot could pass the "vote is
    open" check just before the close committed. (The connections are in ``sqlite3``'s autocommit
    mode, see ``_sqlite_pragmas``, so these BEGINs are the only ones.)
    """

    supports_statement_cache = True
    begin = "BEGIN"

    def do_begin(self, dbapi_connection: Any) -> None:
        dbapi_connection.execute(self.begin)


class SQLiteWriterDialect(SQLiteDialect):
    """The units of work's: ``BEGIN IMMEDIATE`` takes the write lock at once, so a command reads and
    writes one state of the database, as it does on PostgreSQL with its row locks."""

    supports_statement_cache = True
    begin = "BEGIN IMMEDIATE"


registry.register("sqlite.yishi", __name__, "SQLiteDialect")
registry.register("sqlite.yishi_writer", __name__, "SQLiteWriterDialect")
