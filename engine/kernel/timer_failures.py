"""Timers that fail to fire: tried again with backoff, counted, and after ``TIMER_ATTEMPTS`` an incident.

A step that fails inside the workflow (a script refused, a bad timer value) is recorded and puts its
instance in ``error`` at once (``engine.stepping``). Firing can also fail outside the workflow — a bug,
a database error for that one instance — and then nothing is written: the instance still has a due
timer, and every sweep would try it again, forever, as often as the worker polls. So a sweep keeps, per
instance, how many times in a row its firing failed and when it may be tried again (``TIMER_BACKOFF``,
doubled after each failure: 30 s, 1 min, 2 min, 4 min); the ``TIMER_ATTEMPTS``-th failure makes the
instance an incident (``engine.kernel.instances.timers_incident``), which is no longer fired until an admin
retries it — as a Camunda job whose retries have run out.

The record lives in the worker's memory, not in the database: it says how one process is faring with
the instance, not what happened to it (the incident, once made, is in its history). A restart forgets
it — the backoff starts over, and the count still reaches the incident — and each of several workers
counts its own attempts, so an instance is tried at most ``TIMER_ATTEMPTS`` times per worker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

TIMER_ATTEMPTS = 5
"""Failed firings in a row after which an instance becomes an incident."""
TIMER_BACKOFF = timedelta(seconds=30)
"""The wait after the first failure; each further failure doubles it."""


@dataclass(frozen=True)
class _Failing:
    count: int
    retry_at: datetime


class TimerFailures:
    """The instances whose timers failed to fire, by id: how many times in a row, and when to try again."""

    def __init__(self) -> None:
        self._failing: dict[str, _Failing] = {}

    def __len__(self) -> int:
        return len(self._failing)

    def backing_off(self, instance_id: str, now: datetime) -> bool:
        """Whether the instance failed too recently to be tried again now."""
        failing = self._failing.get(instance_id)
        return failing is not None and now < failing.retry_at

    def failed(self, instance_id: str, now: datetime) -> int:
        """Note a failure at ``now``; how many failures in a row that makes."""
        before = self._failing.get(instance_id)
        count = before.count + 1 if before else 1
        self._failing[instance_id] = _Failing(count, now + TIMER_BACKOFF * 2 ** (count - 1))
        return count

    def forget(self, instance_id: str) -> None:
        """The instance fired, or became an incident: its next failure is a first one."""
        self._failing.pop(instance_id, None)

    def keep_only(self, due: Iterable[str]) -> None:
        """Forget the instances no longer due (another command moved them on), so the record stays small."""
        still = set(due)
        self._failing = {i: f for i, f in self._failing.items() if i in still}
