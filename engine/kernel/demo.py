"""The demo clock: in demo mode (``EngineConfig.demo``), an admin may move time forward so that notice periods
and deadlines pass without waiting a day.

The offset is one row (``demo_clock``, id 1) so that every process of a deployment (gunicorn workers, the timer
worker) agrees on it; ``engine.kernel.clock.DemoClock`` adds it to system time and re-reads it at most once a second.
Each advance is a row of ``demo_clock_advances`` (who, by how much, from and to), and the timers it makes due fire
at once, recorded as every timer firing is, at the advanced time; the engine then signs a checkpoint whose reason
names the advance.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy.orm import Session

from engine.kernel.errors import InvalidInput
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


_DURATION = re.compile(
    r"P(?:(?P<weeks>\d{1,5})W)?(?:(?P<days>\d{1,5})D)?(?:T(?:(?P<hours>\d{1,6})H)?(?:(?P<minutes>\d{1,8})M)?(?:(?P<seconds>\d{1,10})S)?)?"
)


def parse_duration(text: str) -> int:
    """An ISO 8601 duration of weeks, days, hours, minutes and seconds (``P1D``, ``PT2H``, ``P1DT30M``) in seconds;
    years and months (of no fixed length) are refused, as are an empty duration and one beyond ``MAX_ADVANCE``."""
    match = _DURATION.fullmatch(text.strip().upper()) if isinstance(text, str) else None
    if match is None or not any(match.groupdict().values()) or text.strip().upper().endswith("T"):
        raise InvalidInput("not an ISO 8601 duration such as P1D or PT2H", errors=[{"field": "advance", "message": "an ISO 8601 duration (P1D, PT2H, P1DT30M)"}])
    parts = {name: int(value) for name, value in match.groupdict().items() if value}
    seconds = int(timedelta(**parts).total_seconds()) if _bounded(parts) else MAX_SECONDS + 1
    check(seconds)
    return seconds


MAX_SECONDS = int(MAX_ADVANCE.total_seconds())


def _bounded(parts: dict[str, int]) -> bool:
    return all(value <= 10**10 for value in parts.values()) and parts.get("weeks", 0) + parts.get("days", 0) <= 10**5


def check(seconds: int) -> None:
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
        raise InvalidInput("the demo clock only moves forward", errors=[{"field": "advance", "message": "must be a positive duration"}])
    if seconds > MAX_SECONDS:
        raise InvalidInput("the demo clock moves at most 400 days at a time", errors=[{"field": "advance", "message": "at most P400D"}])


def iso_duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "" if days else "T0S")


def status(engine: Any) -> dict[str, Any]:
    """What the clock reads now: demo mode or not, the time, the offset."""
    from engine.kernel.clock import DemoClock

    offset = engine.clock.offset if isinstance(engine.clock, DemoClock) else timedelta(0)
    seconds = int(offset.total_seconds())
    return {"demo": engine.config.demo, "now": engine.clock.now(), "offset_seconds": seconds, "offset": iso_duration(seconds)}
