"""The kernel's commands: deploying and adopting definitions, starting and driving instances; marking notifications read.

A command is plain immutable data; its handler is registered with ``@handles`` (``engine.kernel.bus``) by the package that
owns it, runs inside one unit of work, and — when it changes an instance — is recorded as one event in that instance's history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DeployDefinition:
    """With an actor (a community's admin): a version of the community's own. Without (the CLI, the
    platform operator who holds the database): a version of the platform's."""

    filename: str
    source: bytes


@dataclass(frozen=True)
class AdoptDefinition:
    """A community's admin makes the platform's ``version`` of ``key`` what the community runs."""

    key: str
    version: int


@dataclass(frozen=True)
class StartInstance:
    definition_key: str
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CompleteTask:
    task_id: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliverMessage:
    instance_id: str
    message: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FireDueTimers:
    """Fire the timers of one instance that are due at the unit of work's time."""

    instance_id: str


@dataclass(frozen=True)
class RecordTimerIncident:
    """Stop firing an instance's timers, which failed to fire ``failures`` times in a row (the worker's, ``engine.kernel.timer_failures``)."""

    instance_id: str
    failures: int
    cause: str


@dataclass(frozen=True)
class RetryInstance:
    instance_id: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AdvanceDemoClock:
    """In demo mode only, an admin moves the demo clock forward by ``seconds`` (see ``engine.kernel.demo``)."""

    seconds: int


@dataclass(frozen=True)
class MarkNotificationsRead:
    """The caller has read their notifications up to ``until`` (an aware moment; None, or a moment to come: now).

    The read marker only moves forward: marking an earlier moment read changes nothing."""

    until: datetime | None = None
