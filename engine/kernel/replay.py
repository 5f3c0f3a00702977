"""Replay: re-apply an instance's recorded events to its definition version, from nothing.

Each workflow event goes through ``engine.kernel.stepping.step`` with its recorded input, time and
sequence number; the digest after each must equal the one recorded. Domain events leave the
workflow as it was, so their recorded digest must equal the running one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.kernel.definitions import spec_document
from engine.kernel.errors import YishiError
from engine.identity.actors import zone
from engine.kernel.models import Event, Instance
from engine.bpmn.service_calls import RecordedCalls
from engine.kernel.stepping import WORKFLOW_ACTIONS, step


@dataclass
class Mismatch:
    seq: int
    event_type: str
    recorded: str
    replayed: str
    error: str | None = None
    """Why the event could not be applied at all (replay stops there: what follows is unknowable)."""


@dataclass
class ReplayReport:
    instance_id: str
    events: int
    digests: list[str] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    final_state_matches: bool = True
    state: str | None = None
    """The replayed workflow state after the last event."""

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.final_state_matches


HISTORY_DOES_NOT_APPLY = (YishiError, LookupError, TypeError, ValueError, AttributeError)
"""What re-applying an altered or diverged history may raise (SpiffWorkflow included): a finding, not a crash."""


class RecordedEvent(Protocol):
    """What replay (and time travel) reads of an event: a database row, or an entry of an audit bundle."""

    @property
    def seq(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def input(self) -> dict[str, Any]: ...
    @property
    def services(self) -> list[Any] | None: ...
    @property
    def state_digest(self) -> str: ...


def replay(session: Session, instance: Instance) -> ReplayReport:
    """Rebuild the instance from its events and compare every digest with the recorded one."""
    events = session.scalars(select(Event).where(Event.instance_id == instance.id).order_by(Event.seq))
    report = replay_events(spec_document(instance.definition), instance.id, instance.timezone, list(events))
    report.final_state_matches = report.ok and report.state == instance.state
    return report


def replay_events(document: dict[str, Any], instance_id: str, timezone: str, events: Sequence[RecordedEvent]) -> ReplayReport:
    """Replay recorded events from nothing; needs no database (an offline audit runs it on a bundle)."""
    local_tz = zone(timezone)
    report = ReplayReport(instance_id, len(events))
    state: str | None = None
    digest = ""
    for event in events:
        if event.type in WORKFLOW_ACTIONS:
            try:
                result = step(
                    spec_document=document, state_before=state, event_type=event.type, input=event.input,
                    now=event.at, local_tz=local_tz, instance_id=instance_id, seq=event.seq,
                    services=RecordedCalls(event.services or []),
                )
            except HISTORY_DOES_NOT_APPLY as exc:
                reason = exc.message if isinstance(exc, YishiError) else f"{type(exc).__name__}: {exc}"
                report.mismatches.append(Mismatch(event.seq, event.type, event.state_digest, "", reason))
                report.final_state_matches = False
                return report
            state, digest = result.state, result.digest
        report.digests.append(digest)
        if digest != event.state_digest:
            report.mismatches.append(Mismatch(event.seq, event.type, event.state_digest, digest))
    report.state = state
    return report
