"""Apply one recorded command to a workflow: the deterministic core shared by live commands and replay.

``step`` takes the state before, the event type and input, and the event's time and sequence
number, and returns the state after. It reads nothing else — no wall clock, no random ids, no
database — so replaying an instance's events through it must reproduce every recorded digest.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Callable

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.arming import arming_error, deferred_failures, rearm
from engine.bpmn.determinism import deterministic
from engine.bpmn.service_calls import RecordedCalls, ServiceCalls, service_calls
from engine.bpmn.workflows import (
    EngineFailure, OpenTaskView, TimerView, canonical_json, complete_task, deliver_message, describe_failure, dump_state, find_task, fire_timers, new_workflow, open_tasks, pending_timers, restore_workflow, run_forward, sha256_hex,
)
from engine.kernel.errors import Conflict, ScriptError

Action = Callable[[BpmnWorkflow, dict[str, Any]], None]
CONTINUE_AS_NEW_KEY = "continue_as_new"
"""Where a definition version's spec document lists the ids of its ``continueAsNew`` elements."""


def _start(workflow: BpmnWorkflow, input: dict[str, Any]) -> None:
    start = workflow.get_next_task(state=TaskState.READY)
    start.data.update(input.get("variables", {}))


def _retry(workflow: BpmnWorkflow, input: dict[str, Any]) -> None:
    """Retrying runs the workflow forward again, after merging the admin's corrections (if any)
    into the data of the task that failed — as an operator sets variables before a retry. A task
    whose element could not be armed (a bad timer value, …) is armed again, on the corrected data. Due
    timers that failed to fire (``engine.kernel.instances.timers_incident``) are fired: left to the run forward,
    SpiffWorkflow would only mark them ready after its last task, and the instance would wait on nothing."""
    if input.get("fire_timers"):
        fire_timers(workflow)
    task = find_task(workflow, input["task_id"]) if input.get("task_id") else None
    if input.get("data"):
        if task is None:
            raise Conflict("the failed task was never reached, so there is no task data to correct: retry without data")
        task.data.update(input["data"])
    if task is not None and arming_error(task) is not None:
        rearm(task)


WORKFLOW_ACTIONS: dict[str, Action] = {
    "instance_started": _start,
    "task_completed": lambda wf, inp: complete_task(wf, inp["task_id"], inp["data"]),
    "timers_fired": lambda wf, inp: fire_timers(wf),
    "message_delivered": lambda wf, inp: deliver_message(wf, inp["message"], inp["payload"]),
    "instance_retried": _retry,
}
"""Event types that change the workflow, and what each does to it. Other event types record
domain facts (an opinion submitted, answered, …) and leave the workflow's state as it was."""


@dataclass(frozen=True)
class StepResult:
    state: str
    digest: str
    status: str
    data: dict[str, Any]
    tasks: list[OpenTaskView]
    timers: list[TimerView]
    failure: EngineFailure | None
    service_calls: list[dict[str, Any]]
    runs: tuple[BpmnWorkflow, ...] = field(repr=False, compare=False)
    """The workflows the step ran through: those cut short by continue-as-new, then the one whose
    state is ``state``. Only time travel reads them (what a cut run completed is in no state)."""


def step(
    *,
    spec_document: dict[str, Any],
    state_before: str | None,
    event_type: str,
    input: dict[str, Any],
    now: datetime,
    local_tz: tzinfo,
    instance_id: str,
    seq: int,
    services: ServiceCalls,
) -> StepResult:
    """Apply the event's action, then run the workflow forward.

    Elements listed under ``continue_as_new`` in the spec document cut loops short (see
    ``engine.bpmn.workflows.continue_as_new_from``), so the state stays the size of one iteration.

    If running forward fails (a script refused or over budget, a bad timer value, …), the
    half-advanced workflow is discarded and the step is done again on a fresh copy, halting just
    before the failing task (or, if the failure does not come from running a task, right after
    the action): the command still counts, and the instance waits in status ``error`` with the
    failed task visible, for an admin to retry. A value that fails while an element is being armed
    (a timer's, a multi-instance count's: see ``engine.bpmn.arming``) raises nothing and leaves a
    consistent workflow, which is kept as it ran, with that element's task waiting unarmed. If the
    action itself fails (a user task's post-script), the state stays as it was before the action,
    and the instance waits in ``error`` with that task visible; a retry makes it ready again.
    """
    action = WORKFLOW_ACTIONS[event_type]
    input = json.loads(canonical_json(input))  # key order reaches the state's digest; the chain commits to sorted keys
    seed = (now, local_tz, uuid.UUID(instance_id), str(seq))
    loops = frozenset(spec_document.get(CONTINUE_AS_NEW_KEY, ()))
    cut: list[BpmnWorkflow] = []
    with deterministic(*seed), service_calls(services), deferred_failures():
        workflow = _load(spec_document, state_before)
        failure = _apply(action, workflow, input)
        acted = failure is None
        if acted:
            workflow, failure = run_forward(workflow, continue_as_new=loops, cut=cut)
    calls = services.recorded
    if not acted:
        with deterministic(*seed):
            workflow = _load(spec_document, state_before)
    elif failure is not None and not failure.kept:
        cut = []
        with deterministic(*seed), service_calls(RecordedCalls(calls)), deferred_failures():
            workflow = _load(spec_document, state_before)
            action(workflow, input)
            workflow, refailed = run_forward(workflow, stop_before=failure.task_id, continue_as_new=loops, cut=cut)
            if refailed is not None:
                cut = []
                workflow = _load(spec_document, state_before)
                action(workflow, input)
    with deterministic(*seed):
        return _result(workflow, failure, calls, cut)


def _apply(action: Action, workflow: BpmnWorkflow, input: dict[str, Any]) -> EngineFailure | None:
    """Apply the action; a failure of the definition while it runs (a user task's post-script, say) is
    reported, not raised. Refusals of the command itself (a task no longer ready: ``Conflict``) propagate."""
    try:
        action(workflow, input)
    except (WorkflowException, ScriptError, RecursionError, MemoryError) as exc:
        return describe_failure(exc)
    return None


def _load(spec_document: dict[str, Any], state_before: str | None) -> BpmnWorkflow:
    if state_before is None:
        return new_workflow(spec_document)
    return restore_workflow(state_before, spec_document)


_ALIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
STALLED = ("the process stopped with nothing left to do: no task is ready, no event or timer is awaited "
           "and no end event was reached (a flow that leads nowhere, or a join that can never complete)")
"""A step that leaves the workflow so is an incident, not a silent ``running`` instance."""


def _result(
    workflow: BpmnWorkflow, failure: EngineFailure | None, calls: list[dict[str, Any]], cut: list[BpmnWorkflow]
) -> StepResult:
    state = dump_state(workflow)
    if failure is None and not workflow.completed and not workflow.get_tasks(state=_ALIVE):
        failure = EngineFailure(None, None, STALLED)
    if failure is not None:
        status = "error"
    elif workflow.completed:
        status = "completed"
    else:
        status = "running"
    return StepResult(
        state=state,
        digest=sha256_hex(state),
        status=status,
        data=visible_data(workflow),
        tasks=open_tasks(workflow, failure),
        timers=[] if failure else pending_timers(workflow),
        failure=failure,
        service_calls=calls,
        runs=(*cut, workflow),
    )


def visible_data(workflow: BpmnWorkflow) -> dict[str, Any]:
    """The process data the community sees: the final data once finished, else the latest task's."""
    if workflow.completed:
        return dict(workflow.data)
    last = workflow.last_task
    return dict(last.data) if last is not None else {}
