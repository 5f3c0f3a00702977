"""One command, one transaction: the unit of work every state change goes through."""

from __future__ import annotations

import uuid
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.audit.sealing.ledger import Ledger
from engine.kernel.clock import Clock
from engine.kernel.db import Database
from engine.kernel.errors import Conflict


class UnitOfWork:
    """A session plus the command's moment in time; commits all or nothing.

    On SQLite, units of work take turns (``Database.writer_lock``) and each transaction is the
    writer's from its first statement, so what a command read still holds when it writes; its
    commit is made durable after its turn (``Database.sync_wal``).

    ``now`` is read from the clock once, when the unit starts, so everything the command writes
    (and the event that records it) carries the same time.
    """

    session: Session
    now: datetime
    ledger: Ledger
    context: Any = None
    """What the engine running the command lends its handler (``engine.kernel.bus.EngineContext``); None outside one."""

    def __init__(self, db: Database, clock: Clock, *, ahead: bool = False, precomputed: Any = None,
                 now: datetime | None = None) -> None:
        """``ahead``: a unit that computes its workflow step before the transaction that writes it
        (``engine.kernel.instances.advance``): it reads a snapshot, takes no writer and writes nothing.
        ``precomputed`` (with its ``now``): what such a unit computed, for the unit that writes it."""
        self._db = db
        self._clock = clock
        self.ahead, self.precomputed, self._now = ahead, precomputed, now

    def __enter__(self) -> UnitOfWork:
        if self.ahead:
            self.session = self._db.session()
            self.session.autoflush = False
        else:
            self._db.writer_lock.acquire()
            try:
                self.session = self._db.sessions()
            except BaseException:
                self._db.writer_lock.release()
                raise
        self.now = self._now or self._clock.now()
        self.ledger = Ledger(self.session)
        self.published: str | None = None
        self._publishing: str | None = None
        self._committed = False
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is not None or self.ahead:
                self.session.rollback()
        finally:
            try:
                self.session.close()
            finally:
                if not self.ahead:
                    self._db.writer_lock.release()
        if self._committed:
            self._db.sync_wal()  # durable before the caller answers anyone; outside the writer's turn
        # A flush can happen before the commit (autoflush, when the command reads a lazy
        # relationship after changing the instance), so a concurrent change can surface anywhere
        # in the unit, not only in ``commit``: it is the same conflict, with nothing written.
        conflict = _as_conflict(exc)
        if conflict is not None:
            raise conflict from exc

    def new_instance_id(self) -> str:
        """A new instance's id: the one its step was computed ahead with, if it was."""
        reserved = getattr(self.precomputed, "instance_id", None)
        if reserved is not None:
            return reserved
        self.reserved_id = str(uuid.uuid4())
        return self.reserved_id

    def publish(self, what: str) -> None:
        """Mark the command as publishing a result (a vote closed, a cycle checked…): once it has
        committed, the engine signs a checkpoint (``published`` names what, for the log)."""
        self._publishing = what

    def commit(self) -> None:
        """Seal the history and commit; a concurrent change to the same rows surfaces as a Conflict, with nothing written."""
        try:
            self.ledger.seal(self.session)
            self.session.commit()
            self._committed = True
            self.published = self._publishing
        except (StaleDataError, IntegrityError, OperationalError) as exc:
            self.session.rollback()
            conflict = _as_conflict(exc)
            if conflict is None:
                raise
            raise conflict from exc


def _as_conflict(exc: BaseException | None) -> Conflict | None:
    """The Conflict a database error means when it comes from a concurrent writer, else None."""
    if isinstance(exc, StaleDataError):
        return Conflict("the instance was changed by a concurrent request; reload and try again")
    if isinstance(exc, IntegrityError) and _is_unique_violation(exc):
        return Conflict("a concurrent request wrote the same record; reload and try again")
    if isinstance(exc, OperationalError) and ("locked" in str(exc).lower() or "could not serialize" in str(exc).lower()):
        return Conflict("the database was busy with a concurrent change; try again")
    return None


def _is_unique_violation(exc: IntegrityError) -> bool:
    """Two writers racing for the same key (e.g. an event's sequence number), not a bug in our data."""
    text = str(exc.orig).lower()
    return "unique" in text or getattr(exc.orig, "sqlstate", None) == "23505"
