"""The engine's only source of time.

Auditors replay histories, so the engine never reads the wall clock itself: each command receives
its time from a ``Clock`` and records it in its event, and replay feeds the recorded times back.
Tests use ``ManualClock`` to move time instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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


class DemoClock:
    """System time plus a shared offset, for demo deployments only (``yishi serve --demo``).

    Every process of a deployment (gunicorn workers, ``yishi worker``) must agree on the offset, so it lives
    outside the process: ``load_offset`` reads it (meant: one row in the database). Reading it on every ``now()``
    would add a round trip to every command, so the offset is re-read at most once per ``refresh`` (default one
    second of real, monotonic time): another process sees an advance within that second. An advance made by
    this process is seen at once (``advanced``). Time never goes backwards: ``now()`` never returns less than a
    value it returned before, even if the offset store or the system clock steps back.
    """

    def __init__(
        self,
        load_offset: Callable[[], timedelta],
        *,
        system: Clock | None = None,
        refresh: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load_offset
        self._system = system or SystemClock()
        self._refresh = refresh
        self._monotonic = monotonic
        self._offset: timedelta | None = None
        self._read_at = 0.0
        self._last: datetime | None = None

    @property
    def offset(self) -> timedelta:
        if self._offset is None or self._monotonic() - self._read_at >= self._refresh:
            self._offset = self._load()
            self._read_at = self._monotonic()
        return self._offset

    def advanced(self, offset: timedelta) -> None:
        """This process has just stored ``offset``: use it now rather than after the next refresh."""
        self._offset = offset
        self._read_at = self._monotonic()

    def now(self) -> datetime:
        when = self._system.now() + self.offset
        if self._last is not None and when < self._last:
            when = self._last
        self._last = when
        return when
