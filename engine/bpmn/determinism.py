"""Make SpiffWorkflow deterministic, so replaying recorded commands rebuilds identical state.

SpiffWorkflow 3.2 draws task ids from ``uuid4()``, stamps ``last_state_change`` with
``time.time()``, arms timers from ``datetime.now()`` and reads naive timer dates in the
*server's* time zone. Each of those is a module-level name; we rebind them once, at import, to
shims that read a ``ContextVar`` set by :func:`deterministic`. Outside that context the shims
refuse to work, so a code path that forgets to supply time or ids fails loudly instead of
silently drifting. ContextVars keep concurrent requests in different threads apart.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from typing import Iterator

import SpiffWorkflow.task as spiff_task
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer


@dataclass
class _Context:
    now: datetime
    local_tz: tzinfo
    id_namespace: uuid.UUID
    id_prefix: str
    counter: int = field(default=0)

    def next_id(self) -> uuid.UUID:
        self.counter += 1
        return uuid.uuid5(self.id_namespace, f"{self.id_prefix}:{self.counter}")


_current: ContextVar[_Context | None] = ContextVar("yishi_determinism", default=None)


def _context() -> _Context:
    ctx = _current.get()
    if ctx is None:
        raise RuntimeError("SpiffWorkflow was driven outside engine.bpmn.determinism.deterministic()")
    return ctx


@contextmanager
def deterministic(
    now: datetime, local_tz: tzinfo, id_namespace: uuid.UUID, id_prefix: str
) -> Iterator[None]:
    """Run SpiffWorkflow with a fixed clock, a fixed local zone and ids derived from a seed.

    Ids are ``uuid5(id_namespace, f"{id_prefix}:{n}")`` for the n-th task created inside the
    block; callers pass the instance id and the event's sequence number, which replay knows too.
    """
    if now.tzinfo is None:
        raise ValueError("the engine clock must be timezone-aware")
    token = _current.set(_Context(now.astimezone(timezone.utc), local_tz, id_namespace, id_prefix))
    try:
        yield
    finally:
        _current.reset(token)


class _EngineTime:
    """Stands in for the ``time`` module inside ``SpiffWorkflow.task``."""

    @staticmethod
    def time() -> float:
        return _context().now.timestamp()


class _EngineDatetime(datetime):
    """Stands in for ``datetime`` inside SpiffWorkflow's timer module: ``now()`` is the engine clock."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        now = _context().now
        return now.astimezone(tz) if tz else now.replace(tzinfo=None)


def _get_datetime(expression: str) -> datetime:
    """Read an ISO date; a date without an offset is in the community's zone, not the server's."""
    parsed = datetime.fromisoformat(expression)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_context().local_tz)
    return parsed.astimezone(timezone.utc)


def _next_task_id() -> uuid.UUID:
    return _context().next_id()


spiff_task.uuid4 = _next_task_id
spiff_task.time = _EngineTime
spiff_timer.datetime = _EngineDatetime
spiff_timer.TimerEventDefinition.get_datetime = staticmethod(_get_datetime)
