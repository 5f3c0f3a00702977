"""Time travel: an instance as it was after any event, and the path it took to get there.

Auditors ask what the instance looked like when something happened — which tasks were open, what
data it held, which timers were armed — and how it got there, drawn on its diagram: which BPMN
elements completed and which sequence flows were taken, how many times each.

The state comes from replaying the events up to the one asked for through ``engine.kernel.stepping.step``,
as ``engine.kernel.replay`` does. The path cannot be read off that state: a loop through a
``continueAsNew`` element cuts the state back to one iteration, so the path is counted while
replaying, from every run each step went through (``StepResult.runs``). Task ids are unique over
the whole history (uuid5 of the instance and the event's seq), so a task seen in several steps is
counted once. ``state_as_of`` needs no database, so it also runs on the events of an exported
audit bundle; ``instance_as_of`` feeds it an instance's stored events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.service_calls import RecordedCalls
from engine.bpmn.workflows import OpenTaskView, TimerView
from engine.bpmn.xml import BPMN_NS, read_xml
from engine.kernel.definitions import spec_document as definition_spec
from engine.kernel.errors import Conflict, InvalidInput, NotFound, YishiError
from engine.identity.actors import zone
from engine.kernel.models import Event, Instance
from engine.kernel.replay import HISTORY_DOES_NOT_APPLY, RecordedEvent
from engine.kernel.stepping import CONTINUE_AS_NEW_KEY, WORKFLOW_ACTIONS, StepResult, step

FlowIndex = dict[tuple[str, str], str]
"""Sequence flow ids by (sourceRef, targetRef)."""

_REACHED = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.COMPLETED | TaskState.ERROR
"""States a token has arrived in; predicted tasks (FUTURE, LIKELY, MAYBE) are only possible futures."""


@dataclass(frozen=True)
class Snapshot:
    """The instance as it was right after event ``seq``, and the path taken up to then."""

    seq: int
    at: datetime
    event_type: str
    status: str
    open_tasks: list[OpenTaskView]
    data: dict[str, Any]
    pending_timers: list[TimerView]
    completed_elements: dict[str, int]
    """BPMN element id → how many times it completed (over every loop, continued-as-new or not)."""
    flows_taken: dict[str, int]
    """Sequence flow id → how many times a token went along it."""
    digest: str
    """The replayed state's digest."""
    digest_matches: bool
    """Whether ``digest`` equals the digest recorded with event ``seq``."""
    history_matches: bool
    """Whether every event up to ``seq`` replayed to its recorded digest."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "event_type": self.event_type,
            "status": self.status,
            "open_tasks": [
                {"id": t.id, "element_id": t.element_id, "name": t.name, "lane": t.lane, "state": t.state, "error": t.error}
                for t in self.open_tasks
            ],
            "data": self.data,
            "pending_timers": [
                {"task_id": t.task_id, "element_id": t.element_id, "name": t.name, "due_at": t.due_at.isoformat()}
                for t in self.pending_timers
            ],
            "completed_elements": self.completed_elements,
            "flows_taken": self.flows_taken,
            "digest": self.digest,
            "digest_matches": self.digest_matches,
            "history_matches": self.history_matches,
        }


def instance_as_of(session: Session, instance: Instance, seq: int) -> Snapshot:
    """The instance after its event ``seq``, replayed from its stored events and definition version."""
    if seq > instance.last_seq:
        raise NotFound(f"instance {instance.id} has no event {seq}: its last event is {instance.last_seq}")
    events = session.scalars(
        select(Event).where(Event.instance_id == instance.id, Event.seq <= seq).order_by(Event.seq)
    )
    return state_as_of(
        spec_document=definition_spec(instance.definition),
        source=instance.definition.source,
        instance_id=instance.id,
        timezone=instance.timezone,
        events=events,
        seq=seq,
    )


def state_as_of(
    *,
    spec_document: dict[str, Any],
    source: str | bytes,
    instance_id: str,
    timezone: str,
    events: Iterable[RecordedEvent],
    seq: int,
) -> Snapshot:
    """Replay ``events`` (ordered by seq, from the first) up to ``seq`` and describe the instance then.

    ``spec_document`` is the definition version's stored spec and ``source`` its BPMN file, read
    only for the ids of its sequence flows. One pass, one ``step`` per workflow event.
    """
    if seq < 1:
        raise InvalidInput(f"an event's seq starts at 1, not {seq}", errors=[{"field": "seq", "message": "must be at least 1"}])
    local_tz = zone(timezone)
    path = _Path(sequence_flows(source), frozenset(spec_document.get(CONTINUE_AS_NEW_KEY, ())))
    result: StepResult | None = None
    history_matches = True
    last: RecordedEvent | None = None
    for event in _up_to(events, seq):
        if event.type in WORKFLOW_ACTIONS:
            result = _apply(spec_document, instance_id, local_tz, event, result)
            path.observe(result.runs)
        elif result is None:
            raise InvalidInput(f"event {event.seq} ({event.type}) comes before the instance started")
        history_matches &= result.digest == event.state_digest
        last = event
    if last is None or last.seq != seq or result is None:
        raise NotFound(f"instance {instance_id} has no event {seq}")
    return Snapshot(
        seq=seq,
        at=last.at,
        event_type=last.type,
        status=result.status,
        open_tasks=result.tasks,
        data=result.data,
        pending_timers=result.timers,
        completed_elements=dict(path.completed),
        flows_taken=dict(path.taken),
        digest=result.digest,
        digest_matches=result.digest == last.state_digest,
        history_matches=history_matches,
    )


def sequence_flows(source: str | bytes) -> FlowIndex:
    """The ids of a BPMN file's sequence flows, by the elements they connect (read with the safe parser).

    Ids are unique within a file, so embedded subprocesses share the main process's index. Of two
    flows between the same elements (legal, if odd) the first in the file stands for both.
    """
    raw = source.encode("utf-8") if isinstance(source, str) else source
    index: FlowIndex = {}
    for flow in read_xml(raw, "definition").getroot().iter(f"{{{BPMN_NS}}}sequenceFlow"):
        index.setdefault((flow.get("sourceRef"), flow.get("targetRef")), flow.get("id"))
    return index


def _up_to(events: Iterable[RecordedEvent], seq: int) -> Iterator[RecordedEvent]:
    """The events up to ``seq``, insisting on the order replay needs: 1, 2, 3, … with none missing."""
    expected = 1
    for event in events:
        if event.seq > seq:
            return
        if event.seq != expected:
            raise InvalidInput(f"events must come in order from seq 1: expected {expected}, got {event.seq}")
        expected += 1
        yield event


def _apply(
    spec_document: dict[str, Any], instance_id: str, local_tz: tzinfo, event: RecordedEvent, before: StepResult | None
) -> StepResult:
    """Re-apply one workflow event as ``engine.kernel.replay`` does; a history that no longer applies is a conflict."""
    try:
        return step(
            spec_document=spec_document, state_before=before.state if before else None, event_type=event.type,
            input=event.input, now=event.at, local_tz=local_tz, instance_id=instance_id, seq=event.seq,
            services=RecordedCalls(event.services or []),
        )
    except HISTORY_DOES_NOT_APPLY as exc:
        reason = exc.message if isinstance(exc, YishiError) else f"{type(exc).__name__}: {exc}"
        raise Conflict(f"event {event.seq} ({event.type}) cannot be re-applied: {reason}", seq=event.seq) from exc


@dataclass
class _Path:
    """The executed path, counted from every run a replay goes through.

    A task counts once however many steps see it: its element when it is seen completed, and the
    flow into it when it is seen reached (a token arrived, even if the task was cancelled later, as
    an activity interrupted by a boundary event is).
    """

    flows: FlowIndex
    loops: frozenset[str]
    completed: Counter[str] = field(default_factory=Counter)
    taken: Counter[str] = field(default_factory=Counter)
    origin: UUID | None = None
    """The root task of the instance's first run; any other root is a run started by continue-as-new."""
    seen_completed: set[UUID] = field(default_factory=set)
    seen_reached: set[UUID] = field(default_factory=set)

    def observe(self, runs: Iterable[BpmnWorkflow]) -> None:
        for run in runs:
            if self.origin is None:
                self.origin = run.task_tree.id
            skipped, arrival = self._restart(run)
            for task, previous in _elements(run):
                if task.id not in skipped:
                    self._count(task, previous if task.id != arrival else None)

    def _restart(self, run: BpmnWorkflow) -> tuple[set[UUID], UUID | None]:
        """In a run started by continue-as-new, the way from the start event to the marked element
        only brings the token back to where the loop returned: it is not a passage of its own. The
        flow the loop came back along was counted in the run that was cut."""
        if run.task_tree.id == self.origin:
            return set(), None
        for task, _ in _elements(run):
            if task.workflow is run and task.task_spec.bpmn_id in self.loops:
                ancestors = set()
                parent = task.parent
                while parent is not None:
                    ancestors.add(parent.id)
                    parent = parent.parent
                return ancestors, task.id
        return set(), None

    def _count(self, task: Task, previous: str | None) -> None:
        if task.id not in self.seen_reached and _reached(task):
            self.seen_reached.add(task.id)
            flow = self.flows.get((previous, task.task_spec.bpmn_id)) if previous else None
            if flow is not None:
                self.taken[flow] += 1
        if task.id not in self.seen_completed and task.state == TaskState.COMPLETED:
            self.seen_completed.add(task.id)
            self.completed[task.task_spec.bpmn_id] += 1


def _reached(task: Task) -> bool:
    """Whether a token arrived at the task: it is live or finished, or it is a merged branch of a join.

    A parallel or inclusive join keeps one task per arriving branch and cancels all but the one
    that goes on, possibly within the step the branches arrived in. Other cancelled tasks count
    only if some step saw them live: a task cancelled after its parent completed may be where an
    interrupted activity would have gone (SpiffWorkflow lets an interrupted subprocess complete).
    """
    if task.has_state(_REACHED):
        return True
    parent = task.parent
    return (
        task.state == TaskState.CANCELLED
        and isinstance(task.task_spec, UnstructuredJoin)
        and parent is not None
        and parent.state == TaskState.COMPLETED
    )


def _elements(run: BpmnWorkflow) -> Iterator[tuple[Task, str | None]]:
    """Each task of a BPMN element in the run, with the element the token came from (None at a start).

    SpiffWorkflow's own tasks (Start, joins of boundary events, EndJoin, End, multi-instance
    children) are passed through. An embedded subprocess's tasks are its run's too (their ids are
    in the same file); a call activity's are another file's, so only the activity itself counts.
    """
    pending: list[tuple[Task, str | None]] = [(run.task_tree, None)]
    while pending:
        task, previous = pending.pop()
        spec = task.task_spec
        element = spec.bpmn_id if getattr(spec, "bpmn_id", None) and spec.name == spec.bpmn_id else None
        if element is not None:
            yield task, previous
        subprocess = run.subprocesses.get(task.id)
        if subprocess is not None and not isinstance(spec, CallActivity):
            pending.append((subprocess.task_tree, None))
        pending.extend((child, element or previous) for child in reversed(task.children))
