"""The bridge to SpiffWorkflow: build, restore, drive and snapshot one workflow.

Nothing here touches the database. A workflow's state is SpiffWorkflow's own serialization with
the parsed spec removed (the spec is stored once per definition version and put back on load),
rendered as canonical JSON so that its sha256 is a stable digest that replay can reproduce.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import TaskNotFoundException, WorkflowException
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import determinism  # noqa: F401  (installs the deterministic hooks)
from engine.bpmn.arming import arming_error, arming_failure
from engine.bpmn.limits import MAX_STEP_TASKS, MAX_TASK_DEPTH
from engine.bpmn.sandbox import SandboxScriptEngine, script_error_from
from engine.kernel.errors import Conflict, InvalidInput, ScriptError

SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
SCRIPT_ENGINE = SandboxScriptEngine()
_SPEC_KEYS = ("spec", "subprocess_specs")


def canonical_json(value: Any) -> str:
    """One byte-exact rendering of a JSON value: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def serialize_spec(spec: Any, subprocess_specs: dict[str, Any]) -> dict[str, Any]:
    """The parsed spec of a definition version, as stored once in its ``Definition`` row."""
    return {
        "spec": SERIALIZER.to_dict(spec),
        "subprocess_specs": {name: SERIALIZER.to_dict(sp) for name, sp in subprocess_specs.items()},
    }


def new_workflow(spec_document: dict[str, Any]) -> BpmnWorkflow:
    specs = json.loads(canonical_json({k: spec_document[k] for k in _SPEC_KEYS}))
    spec = SERIALIZER.from_dict(specs["spec"])
    subprocess_specs = {name: SERIALIZER.from_dict(sp) for name, sp in specs["subprocess_specs"].items()}
    return BpmnWorkflow(spec, subprocess_specs, script_engine=SCRIPT_ENGINE)


def restore_workflow(state: str, spec_document: dict[str, Any]) -> BpmnWorkflow:
    """Rebuild a workflow from its stored state and its definition's spec."""
    document = json.loads(state)
    _parents_first(document)
    for subprocess in document.get("subprocesses", {}).values():
        _parents_first(subprocess)
    document.update(json.loads(canonical_json({k: spec_document[k] for k in _SPEC_KEYS})))
    workflow = SERIALIZER.from_dict(document)
    workflow.script_engine = SCRIPT_ENGINE
    return workflow


def _parents_first(document: dict[str, Any]) -> None:
    """Order the task mapping from the root down, as SpiffWorkflow needs when it restores.

    Each task's data is stored as a delta against its parent and rebuilt from the parent's data,
    so a parent must be restored before its children; canonical JSON sorts the mapping by id.
    """
    tasks = document["tasks"]
    ordered: dict[str, Any] = {}
    pending = [document["root"]]
    while pending:
        task_id = pending.pop()
        ordered[task_id] = tasks[task_id]
        pending.extend(reversed(tasks[task_id]["children"]))
    ordered.update((task_id, task) for task_id, task in tasks.items() if task_id not in ordered)
    document["tasks"] = ordered


def dump_state(workflow: BpmnWorkflow) -> str:
    """The workflow's state without its spec, as canonical JSON (the input of the digest)."""
    document = SERIALIZER.to_dict(workflow)
    for key in _SPEC_KEYS:
        document.pop(key, None)
    document["serializer_version"] = SERIALIZER.VERSION
    return canonical_json(document)


@dataclass(frozen=True)
class EngineFailure:
    """Why running the workflow forward stopped: the failing task and element, and a readable message."""

    task_id: str | None
    element_id: str | None
    message: str
    kept: bool = field(default=False, compare=False)
    """The workflow that failed is consistent and is kept as it is: an element could not be armed (see
    ``engine.bpmn.arming``), so its task waits unarmed while the rest of the step completed."""

    def as_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "element_id": self.element_id, "message": self.message}


class _StopBefore(Exception):
    """Raised from SpiffWorkflow's will-complete hook to halt just before a known failing task."""


class _OverBudget(Exception):
    """Raised from the will-complete hook when a step runs too many tasks or too deep (``engine.bpmn.limits``)."""

    def __init__(self, task: Task, message: str) -> None:
        super().__init__(message)
        self.task = task


class _ContinueAsNew(Exception):
    """Raised from the will-complete hook when a loop comes back to a ``continueAsNew`` element."""

    def __init__(self, task: Task) -> None:
        super().__init__(task.task_spec.bpmn_id)
        self.task = task


def run_forward(
    workflow: BpmnWorkflow,
    stop_before: str | None = None,
    continue_as_new: frozenset[str] = frozenset(),
    cut: list[BpmnWorkflow] | None = None,
) -> tuple[BpmnWorkflow, EngineFailure | None]:
    """Run automatic tasks until the workflow waits; report (not raise) a failing script or element.

    Returns the workflow that ran (a fresh one if the run continued as new, see
    ``continue_as_new_from``) and the failure, if any. With ``stop_before``, halt cleanly just
    before running that task: this is how a failed command keeps the steps that succeeded before
    the failing task. After a reported failure the in-memory workflow may be half-advanced and
    must be thrown away. Domain errors raised by a service operation (invalid input, a conflict)
    are refusals of the command, not failures of the instance: they propagate, and nothing is
    written. Runs dropped by continue-as-new are appended to ``cut`` (if given): what they
    completed is in no state, and time travel counts it from them.
    """

    ran = 0

    def halt(task: Task) -> None:
        nonlocal ran
        if str(task.id) == stop_before:
            raise _StopBefore
        ran += 1
        if ran > MAX_STEP_TASKS:
            raise _OverBudget(task, f"this step ran more than MAX_STEP_TASKS ({MAX_STEP_TASKS}) tasks")
        if task.depth > MAX_TASK_DEPTH:
            raise _OverBudget(task, (
                f"the task is {task.depth} tasks deep in its workflow, more than MAX_TASK_DEPTH ({MAX_TASK_DEPTH}):"
                " a loop that runs this many rounds needs continueAsNew"
            ))
        if task.task_spec.bpmn_id in continue_as_new and _looped_back(workflow, task):
            raise _ContinueAsNew(task)

    while True:
        try:
            workflow.do_engine_steps(will_complete_task=halt)
        except _StopBefore:
            return workflow, None
        except _OverBudget as over:
            return workflow, EngineFailure(str(over.task.id), over.task.task_spec.bpmn_id, str(over))
        except _ContinueAsNew as loop:
            try:
                fresh = continue_as_new_from(workflow, loop.task)
            except WorkflowException as exc:
                return workflow, describe_failure(exc)
            if cut is not None:
                cut.append(workflow)
            workflow = fresh
            continue
        except (WorkflowException, ScriptError, RecursionError, MemoryError) as exc:
            return workflow, describe_failure(exc)
        return workflow, unarmed_failure(workflow)


def unarmed_failure(workflow: BpmnWorkflow) -> EngineFailure | None:
    """The failure of a step that left an element unarmed (a bad timer value, too many instances, …)."""
    task = arming_failure(workflow)
    if task is None:
        return None
    return EngineFailure(str(task.id), task.task_spec.bpmn_id, arming_error(task) or "", kept=True)


def _looped_back(workflow: BpmnWorkflow, task: Task) -> bool:
    """Whether an element of the main process is reached again: it already ran in this workflow."""
    return task.workflow is workflow and any(
        done.task_spec is task.task_spec for done in workflow.get_tasks(state=TaskState.COMPLETED)
    )


def continue_as_new_from(workflow: BpmnWorkflow, task: Task) -> BpmnWorkflow:
    """A fresh workflow of the same spec, started with ``task``'s data, to replace ``workflow``.

    Loops add tasks to SpiffWorkflow's tree on every iteration, so a process that loops for years
    (a quality cycle a month) would carry every past iteration in its state and pay for it on every
    step. An element marked ``continueAsNew`` cuts the loop, as Temporal's continue-as-new does:
    when a token comes back to it, the run so far is dropped and a new one starts from the start
    event with the data the token carried, arriving at the element for the first time. Whatever
    the process needs to remember across iterations must travel in that data (or in domain rows).
    The new run is built inside the same ``deterministic`` context, so replay rebuilds it exactly.
    Another branch still active would be lost with the old run, so that is a failure, not a drop.
    """
    active = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
    others = sorted({t.task_spec.bpmn_id or t.task_spec.name for t in workflow.get_tasks(state=active) if t is not task})
    if others:
        raise WorkflowTaskException(
            f"{task.task_spec.bpmn_id} continues as new while other paths are still active ({', '.join(others)});"
            " they would be lost",
            task=task,
        )
    fresh = BpmnWorkflow(workflow.spec, workflow.subprocess_specs, script_engine=SCRIPT_ENGINE)
    fresh.get_next_task(state=TaskState.READY).data.update(task.data)
    return fresh


def describe_failure(exc: BaseException) -> EngineFailure:
    task = getattr(exc, "task", None)
    task_spec = getattr(exc, "task_spec", None) or getattr(task, "task_spec", None)
    element_id = getattr(task_spec, "bpmn_id", None) or getattr(task_spec, "name", None)
    script_error = script_error_from(exc)
    message = script_error.message if script_error else (str(exc) or exc.__class__.__name__)
    return EngineFailure(str(task.id) if task is not None else None, element_id, message)


def ready_task(workflow: BpmnWorkflow, task_id: str) -> Task:
    """The user task to complete; a task that exists but is not ready is a conflict, not a no-op."""
    task = next((t for t in workflow.get_tasks() if str(t.id) == task_id), None)
    if task is None:
        raise Conflict(f"task {task_id} is not part of this instance any more")
    if task.state != TaskState.READY or not task.task_spec.manual:
        raise Conflict(
            f"task {task_id} ({task.task_spec.bpmn_id}) is {TaskState.get_name(task.state)}, not ready to complete"
        )
    return task


def complete_task(workflow: BpmnWorkflow, task_id: str, data: dict[str, Any]) -> None:
    task = ready_task(workflow, task_id)
    task.data.update(data)
    task.run()


def fire_timers(workflow: BpmnWorkflow) -> None:
    """Re-check waiting timers against the (injected) clock; due ones fire on the next step."""
    workflow.refresh_timers()


def deliver_message(workflow: BpmnWorkflow, message_name: str, payload: dict[str, Any]) -> None:
    """Hand a message to the event waiting for it; SpiffWorkflow does not route between instances."""
    definition = next(
        (
            task.task_spec.event_definition
            for task in workflow.get_tasks(state=TaskState.WAITING)
            if isinstance(getattr(task.task_spec, "event_definition", None), MessageEventDefinition)
            and task.task_spec.event_definition.name == message_name
        ),
        None,
    )
    if definition is None:
        raise Conflict(f"this instance is not waiting for the message {message_name!r}")
    workflow.send_event(BpmnEvent(definition, payload))


@dataclass(frozen=True)
class OpenTaskView:
    """What the task index stores of a ready user task (or of a failed automatic one)."""

    id: str
    element_id: str
    name: str
    lane: str | None
    state: str
    form: str | None
    properties: dict[str, str]
    instructions: str | None
    error: str | None = None


def open_tasks(workflow: BpmnWorkflow, failure: EngineFailure | None = None) -> list[OpenTaskView]:
    """Ready user tasks, plus the task that failed (state ERROR), whatever SpiffWorkflow's state for it."""
    views = [_view(task, "READY", None) for task in workflow.get_tasks(state=TaskState.READY) if task.task_spec.manual]
    failed = find_task(workflow, failure.task_id) if failure and failure.task_id else None
    if failed is not None and not failed.has_state(TaskState.FINISHED_MASK):
        views = [v for v in views if v.id != failure.task_id] + [_view(failed, "ERROR", failure.message)]
    return views


def find_task(workflow: BpmnWorkflow, task_id: str) -> Task | None:
    """The task, or None when the kept workflow never reached it (a failure while arming an event, say)."""
    try:
        return workflow.get_task_from_id(UUID(task_id))
    except TaskNotFoundException:
        return None


def _view(task: Task, state: str, error: str | None) -> OpenTaskView:
    spec = task.task_spec
    extensions = getattr(spec, "extensions", {}) or {}
    properties = dict(extensions.get("properties", {}))
    return OpenTaskView(
        id=str(task.id),
        element_id=spec.bpmn_id,
        name=spec.bpmn_name or spec.bpmn_id,
        lane=spec.lane,
        state=state,
        form=properties.get("formSchema"),
        properties=properties,
        instructions=extensions.get("instructionsForEndUser"),
        error=error,
    )


@dataclass(frozen=True)
class TimerView:
    task_id: str
    element_id: str
    name: str
    due_at: datetime


def pending_timers(workflow: BpmnWorkflow) -> list[TimerView]:
    """Armed timers and when they fall due (read from the value SpiffWorkflow fixed when arming)."""
    timers = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = _timer_of(getattr(task.task_spec, "event_definition", None))
        if definition is None:
            continue
        value = task._get_internal_data("event_value")
        if isinstance(value, dict):
            value = value.get("next") if value.get("cycles") else None
        if value is None:
            continue
        timers.append(
            TimerView(str(task.id), task.task_spec.bpmn_id, definition.name or task.task_spec.bpmn_id, _due(value))
        )
    return timers


def _timer_of(definition: Any) -> TimerEventDefinition | None:
    """The timer a waiting event waits for: its own, or the one timer among the events of an event-based
    gateway (or a multiple event), which SpiffWorkflow arms on the gateway's task."""
    if isinstance(definition, TimerEventDefinition):
        return definition
    if isinstance(definition, MultipleEventDefinition):
        timers = [d for d in definition.event_definitions if isinstance(d, TimerEventDefinition)]
        return timers[0] if len(timers) == 1 else None
    return None


def _due(value: str) -> datetime:
    try:
        return TimerEventDefinition.get_datetime(value)
    except ValueError as exc:
        raise InvalidInput(f"timer value {value!r} is not an ISO 8601 date") from exc
