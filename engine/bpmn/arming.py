"""Arm timers and multi-instance activities within bounds, and let a bad value fail only its own task.

SpiffWorkflow evaluates a timer's expression, or a multi-instance activity's cardinality or input
collection, when a token reaches the element (while "arming" it: inside the completion of the task
before it). A bad value there escapes raw in the middle of that completion — a ``ValueError`` for a
date that is no date, an ``AttributeError`` for a number, a ``TypeError`` for a missing collection —
and an out-of-bounds value runs on inside the step: ``P999999999Y`` for an hour, ``R/PT0S`` forever,
a cardinality of 10,000 for minutes. And since the failure comes from no task that ran, the step could
not halt before it, so no failed task was left for an admin to see.

The hooks installed here (once, at import, like ``engine.bpmn.determinism``) check the value first,
with ``engine.bpmn.timer_values`` and ``engine.bpmn.limits``. A value that passes is armed exactly as
SpiffWorkflow arms it. Inside an engine step (``deferred_failures``, entered by
``engine.kernel.stepping.step``), a value that fails, or an expression that fails to evaluate, does not raise: the
element stays unarmed (a timer waits with no deadline, a multi-instance activity creates no instance),
the reason is noted in its task's internal data, and the rest of the step completes normally, so the
workflow is consistent and can be kept. ``arming_failure`` then reports the task as failed, the instance
waits in status ``error`` with that task visible, and ``rearm`` (an admin's retry, with corrected data
if need be) arms it again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timezone
from typing import Any, Callable

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import (
    MultiInstanceTask,
    ParallelMultiInstanceTask,
    SequentialMultiInstanceTask,
)
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import determinism  # noqa: F401  (timer dates are read in the community's zone)
from engine.bpmn.limits import MAX_MULTI_INSTANCES
from engine.bpmn.sandbox import script_error_from
from engine.bpmn.timer_values import TimerKind, TimerValueError, check_timer_value

ARMING_ERROR = "arming_error"
"""Internal-data key of a task whose element could not be armed; its value is the reason."""

_deferring: ContextVar[bool] = ContextVar("yishi_arming_deferred", default=False)


@contextmanager
def deferred_failures() -> Iterator[None]:
    """Inside an engine step, an element that cannot be armed is left unarmed instead of raising.

    Outside (SpiffWorkflow driven directly, as some tests do), the hooks still check values but fail as
    SpiffWorkflow does, by raising: the evaluation's own error, or a ``WorkflowTaskException`` naming
    the task for a bad value.
    """
    token = _deferring.set(True)
    try:
        yield
    finally:
        _deferring.reset(token)


class ArmingFailed(Exception):
    """Internal: why an element cannot be armed, in words for the admin who will retry it."""


def arming_error(task: Task) -> str | None:
    return task.internal_data.get(ARMING_ERROR)


def arming_failure(workflow: BpmnWorkflow) -> Task | None:
    """The first task (in tree order) left unarmed by the step that just ran, if any."""
    for task in workflow.get_tasks(state=TaskState.NOT_FINISHED_MASK):
        if ARMING_ERROR in task.internal_data:
            return task
    return None


def rearm(task: Task) -> None:
    """Arm a task left unarmed again, on its data as it is now (with an admin's corrections).

    SpiffWorkflow's update first merges the parent task's data over the task's own, which would undo a
    correction of a value the parent holds; that merge already happened when the task was first
    reached, so it is skipped here.
    """
    del task.internal_data[ARMING_ERROR]
    task._inherit_data = lambda: None  # type: ignore[method-assign]
    try:
        task.task_spec._update(task)
    finally:
        del task._inherit_data


def _attempt(arm: Callable[..., None], *args: Any) -> ArmingFailed | None:
    try:
        arm(*args)
    except ArmingFailed as failure:
        return failure
    return None


def _fail(task: Task, reason: str, failure: ArmingFailed) -> None:
    """Note why the task is unarmed (in a step), or raise as SpiffWorkflow would (outside one).

    Called outside any ``except`` block, so that re-raising the evaluation's own error keeps its chain
    (the ``ScriptError`` behind it, which ``script_error_from`` finds through ``__context__``)."""
    if not _deferring.get():
        if isinstance(failure.__cause__, WorkflowException):
            raise failure.__cause__
        raise WorkflowTaskException(reason, task=task) from failure
    task.internal_data[ARMING_ERROR] = reason


def _evaluate(task: Task, expression: str, what: str) -> Any:
    """An expression's value; a failure (refused by the sandbox, a missing name) becomes ``ArmingFailed``."""
    try:
        return task.workflow.script_engine.evaluate(task, expression)
    except WorkflowException as exc:
        error = script_error_from(exc)
        raise ArmingFailed(f"{what} {expression!r} failed: {error.message if error else exc}") from exc


# -- Timers ----------------------------------------------------------------------------------------------------


def _timer_value(task: Task, definition: TimerEventDefinition, kind: TimerKind) -> Any:
    """Evaluate and check a timer's expression; ``ArmingFailed`` says why it cannot be armed."""
    value = _evaluate(task, definition.expression, f"the {kind} expression")
    try:
        return check_timer_value(kind, value)
    except TimerValueError as exc:
        raise ArmingFailed(exc.message) from exc


def _arm_date(task: Task, definition: TimeDateEventDefinition) -> None:
    checked = _timer_value(task, definition, "timeDate")
    task._set_internal_data(event_value=checked.text)  # what SpiffWorkflow itself stores


def _arm_duration(task: Task, definition: DurationTimerEventDefinition) -> None:
    checked = _timer_value(task, definition, "timeDuration")
    parsed = TimerEventDefinition.parse_iso_duration(checked.text)
    due = spiff_timer.datetime.now(timezone.utc) + TimerEventDefinition.get_timedelta_from_start(parsed)
    task._set_internal_data(event_value=due.isoformat())


def _arm_cycle(task: Task, definition: CycleTimerEventDefinition) -> None:
    """The value SpiffWorkflow's ``parse_iso_recurring_interval`` computes, from the checked reading
    (whose type checks of a start date miss the engine's deterministic dates)."""
    checked = _timer_value(task, definition, "timeCycle")
    interval_text = next(part for part in checked.text.upper().split("/")[1:] if part.startswith("P"))
    parsed = TimerEventDefinition.parse_iso_duration(interval_text)
    if checked.anchor == "start":
        start = TimerEventDefinition.get_datetime(checked.date.isoformat())  # type: ignore[union-attr]
        duration = TimerEventDefinition.get_timedelta_from_start(parsed, start)
    elif checked.anchor == "end":
        end = TimerEventDefinition.get_datetime(checked.date.isoformat())  # type: ignore[union-attr]
        duration = TimerEventDefinition.get_timedelta_from_end(parsed, end)
        start = end - duration
    else:
        duration = TimerEventDefinition.get_timedelta_from_start(parsed)
        start = spiff_timer.datetime.now(timezone.utc) + duration
    task._set_internal_data(event_value={"cycles": checked.cycles, "next": start.isoformat(), "duration": duration.total_seconds()})


def _guard_timer(original: Callable[[Any, Task], Any], arm: Callable[[Task, Any], None], unarmed: Any) -> Callable[[Any, Task], Any]:
    def guarded(self: Any, my_task: Task) -> Any:
        if my_task._get_internal_data("event_value") is None and not my_task._get_internal_data("event_fired", False):
            failure = _attempt(arm, my_task, self)
            if failure is not None:
                _fail(my_task, f"{my_task.task_spec.bpmn_id}: {failure}", failure)
                return unarmed
            my_task.internal_data.pop(ARMING_ERROR, None)
        return original(self, my_task)

    return guarded


# -- Multi-instance activities ---------------------------------------------------------------------------------


def _instance_count(spec: MultiInstanceTask, task: Task) -> None:
    """Check what the activity would create instances from: its input collection or its cardinality."""
    if spec.data_input is not None:
        name = spec.data_input.bpmn_id
        try:
            present = spec.data_input.exists(task)
            collection = spec.data_input.get(task) if present else None
        except WorkflowException as exc:
            raise ArmingFailed(f"its input collection {name!r} cannot be read: {exc}") from exc
        if not present or collection is None:
            raise ArmingFailed(f"its input collection {name!r} is not in the task data")
        if not isinstance(collection, (list, dict)):
            raise ArmingFailed(f"its input collection {name!r} must be a list or a dict, not {type(collection).__name__}")
        count, what = len(collection), f"its input collection {name!r} has {len(collection)} items"
    elif spec.cardinality is not None:
        value = _evaluate(task, spec.cardinality, "the loop cardinality")
        if type(value) is not int or value < 0:
            raise ArmingFailed(f"the loop cardinality {spec.cardinality!r} must give a whole number ≥ 0, not {value!r}")
        count, what = value, f"the loop cardinality {spec.cardinality!r} gave {value}"
    else:
        raise ArmingFailed("it has neither a loop cardinality nor an input collection")
    if count > MAX_MULTI_INSTANCES:
        raise ArmingFailed(f"{what}, more than MAX_MULTI_INSTANCES ({MAX_MULTI_INSTANCES}) instances")


def _guard_multi_instance(original: Callable[[Any, Task], Any]) -> Callable[[Any, Task], Any]:
    def guarded(self: MultiInstanceTask, my_task: Task) -> Any:
        my_task._inherit_data()  # as the original begins by doing, so that the check reads the same data
        failure = _attempt(_instance_count, self, my_task)
        if failure is not None:
            _fail(my_task, f"{self.bpmn_id}: {failure}", failure)
            return None
        my_task.internal_data.pop(ARMING_ERROR, None)
        return original(self, my_task)

    return guarded


def _install() -> None:
    if getattr(TimerEventDefinition, "_yishi_armed", False):
        return
    TimeDateEventDefinition.has_fired = _guard_timer(TimeDateEventDefinition.has_fired, _arm_date, False)
    DurationTimerEventDefinition.has_fired = _guard_timer(DurationTimerEventDefinition.has_fired, _arm_duration, False)
    CycleTimerEventDefinition.cycle_complete = _guard_timer(CycleTimerEventDefinition.cycle_complete, _arm_cycle, False)
    for cls in (SequentialMultiInstanceTask, ParallelMultiInstanceTask):
        cls._update_hook = _guard_multi_instance(cls._update_hook)
    TimerEventDefinition._yishi_armed = True


_install()
