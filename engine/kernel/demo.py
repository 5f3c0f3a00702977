"""The demo clock: in demo mode (``EngineConfig.demo``), an admin may move time forward so that notice periods
and deadlines pass without waiting a day.

The offset is one row (``demo_clock``, id 1) so that every process of a deployment (gunicorn workers, the timer
worker) agrees on it; ``engine.kernel.clock.DemoClock`` adds it to system time and re-reads it at most once a second.
Each advance is a row of ``demo_clock_advances`` (who, by how much, from and to), and the timers it makes due fire
at once, recorded as every timer firing is, at the advanced time; the engine then signs a checkpoint whose reason
names the advance.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy.orm import Session

from engine.kernel.models import DemoClockAdvance, DemoClockOffset

if TYPE_CHECKING:
    from engine.kernel.db import Database

MAX_ADVANCE = timedelta(days=400)
"""One advance moves time at most this far: a longer one is a typo, not a demo."""


class Advanced(NamedTuple):
    seconds: int
    offset: timedelta
    from_at: datetime
    to_at: datetime
    fired: int = 0


def stored_offset(session: Session) -> timedelta:
    row = session.get(DemoClockOffset, 1)
    return timedelta(seconds=row.offset_seconds) if row else timedelta(0)


def offset_loader(db: Database):
    """What a ``DemoClock`` calls to read the shared offset: one primary-key read in its own short session."""

    def load() -> timedelta:
        session = db.session()
        try:
            return stored_offset(session)
        finally:
            session.rollback()
            session.close()

    return load


def advance(session: Session, seconds: int, now: datetime, actor_id: int | None, community_id: int | None) -> Advanced:
    """Store the offset moved by ``seconds`` and record the advance; ``now`` is the demo time before it."""
    row = session.get(DemoClockOffset, 1)
    if row is None:
        row = DemoClockOffset(id=1, offset_seconds=0)
        session.add(row)
    row.offset_seconds = (row.offset_seconds or 0) + seconds
    row.updated_at = datetime.now(timezone.utc)
    to_at = now + timedelta(seconds=seconds)
    session.add(DemoClockAdvance(actor_id=actor_id, community_id=community_id, seconds=seconds, from_at=now, to_at=to_at))
    return Advanced(seconds, timedelta(seconds=row.offset_seconds), now, to_at)
