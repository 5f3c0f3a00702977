"""Service tasks as recorded activities, in the spirit of Temporal.

A BPMN service task names an operation (``spiffworkflow:serviceTaskOperator id="vote.open"``).
Live, the operation runs inside the command's unit of work and every call — name, parameters
and JSON result — is recorded in the command's event. On replay the recorded results are fed
back instead of running the operation again, so replay never touches domain records and still
rebuilds the same workflow state. This module only holds the switch between the two; the
operations themselves are registered by the domain (see ``engine/kernel/operations.py``).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterator, Protocol

from engine.kernel.errors import ScriptError


class ServiceCalls(Protocol):
    recorded: list[dict[str, Any]]

    def call(self, operation: str, params: dict[str, Any]) -> Any:
        """Run (or replay) one operation and return its JSON-compatible result."""


class LiveCalls:
    """Runs operations for real and records each call."""

    def __init__(self, run: Callable[[str, dict[str, Any]], Any]) -> None:
        self._run = run
        self.recorded: list[dict[str, Any]] = []

    def call(self, operation: str, params: dict[str, Any]) -> Any:
        result = json.loads(json.dumps(self._run(operation, params)))
        self.recorded.append({"operation": operation, "params": params, "result": result})
        return result


class RecordedCalls:
    """Feeds back recorded results in order; a different call than recorded means the history diverged."""

    def __init__(self, recorded: list[dict[str, Any]]) -> None:
        self.recorded = list(recorded)
        self._next = 0

    def call(self, operation: str, params: dict[str, Any]) -> Any:
        if self._next >= len(self.recorded):
            raise ScriptError(f"service call {operation} was not recorded in this event")
        call = self.recorded[self._next]
        if call["operation"] != operation or call["params"] != params:
            raise ScriptError(f"service call {operation} differs from the recorded {call['operation']}")
        self._next += 1
        return call["result"]


class NoCalls:
    """Used where no operation may run (e.g. a step that should not reach a service task)."""

    recorded: list[dict[str, Any]] = []

    def call(self, operation: str, params: dict[str, Any]) -> Any:
        raise ScriptError(f"service task {operation} cannot run here")


class NeedsWriter(BaseException):
    """A step computed ahead of its transaction reached a service task (``ProbeCalls``).

    A BaseException, so that no handler in SpiffWorkflow or in the step takes it for the step's own failure.
    """


class ProbeCalls:
    """For a step computed before its unit of work takes the database writer: an operation writes
    domain records, so reaching one stops the computation (the step is then run in the transaction)."""

    recorded: list[dict[str, Any]] = []

    def call(self, operation: str, params: dict[str, Any]) -> Any:
        raise NeedsWriter(operation)


_current: ContextVar[ServiceCalls] = ContextVar("yishi_service_calls", default=NoCalls())


@contextmanager
def service_calls(calls: ServiceCalls) -> Iterator[ServiceCalls]:
    token = _current.set(calls)
    try:
        yield calls
    finally:
        _current.reset(token)


def call(operation: str, params: dict[str, Any]) -> str:
    """What the script engine's ``call_service`` does: a JSON string, as SpiffWorkflow expects.

    Keys are sorted: the order of a result's keys reaches the workflow's data (and its digest), and
    a recorded result must replay the same whether or not something re-sorted the JSON it is kept in.
    """
    return json.dumps(_current.get().call(operation, params), sort_keys=True)
