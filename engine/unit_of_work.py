"""One command, one transaction: the unit of work every state change goes through."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine.clock import Clock
from engine.errors import Conflict


class UnitOfWork:
    """A session plus the command's moment in time; commits all or nothing.

    ``now`` is read from the clock once, when the unit starts, so everything the command writes
    (and the event that records it) carries the same time.
    """

    session: Session
    now: datetime

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def __enter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self.now = self._clock.now()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is not None:
                self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        """Commit; a concurrent change to the same rows surfaces as a Conflict, with nothing written."""
        try:
            self.session.commit()
        except StaleDataError as exc:
            self.session.rollback()
            raise Conflict("the instance was changed by a concurrent request; reload and try again") from exc
        except IntegrityError as exc:
            self.session.rollback()
            if not _is_unique_violation(exc):
                raise
            raise Conflict("a concurrent request wrote the same record; reload and try again") from exc
        except OperationalError as exc:
            self.session.rollback()
            if "locked" in str(exc).lower() or "could not serialize" in str(exc).lower():
                raise Conflict("the database was busy with a concurrent change; try again") from exc
            raise


def _is_unique_violation(exc: IntegrityError) -> bool:
    """Two writers racing for the same key (e.g. an event's sequence number), not a bug in our data."""
    text = str(exc.orig).lower()
    return "unique" in text or getattr(exc.orig, "sqlstate", None) == "23505"
