"""The engine's only source of time.

Auditors replay histories, so the engine never reads the wall clock itself: each command receives
its time from a ``Clock`` and records it in its event, and replay feeds the recorded times back.
Tests use ``ManualClock`` to move time instead of sleeping.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""


class SystemClock:
    """The real clock, used by the server and the timer worker."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc).replace(microsecond=0)


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(timezone.utc)
