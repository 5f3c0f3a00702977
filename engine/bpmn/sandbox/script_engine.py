"""The environment SpiffWorkflow runs scripts in, and the script engine every BpmnWorkflow gets."""

from __future__ import annotations


from collections.abc import Mapping
from types import CodeType
from typing import Any, Literal
from SpiffWorkflow.bpmn.script_engine import BasePythonScriptEngineEnvironment, PythonScriptEngine
from engine.bpmn import isolation, service_calls
from engine.bpmn.sandbox.data import PlainCopier, copy_task_data, is_data_name
from engine.bpmn.sandbox.errors import runtime_error
from engine.bpmn.sandbox.guards import GUARDS
from engine.bpmn.sandbox.policy import Budget, compile_script


# -- The environment and the engine ----------------------------------------------------------------------------


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Runs SpiffWorkflow's scripts and expressions under RestrictedPython with budgets and size guards.

    ``environment_globals`` (inherited) and ``external_context`` are trusted host values offered to scripts by
    reference and never written back: whatever callable the host puts there runs unrestricted.
    """

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        """The value of ``expression``; the task data is a copy, so an expression cannot change it."""
        compile_script(expression, "eval")  # a refused expression is refused here, before its data is copied out
        return isolation.SCRIPTS.run("eval", expression, self._data(context), self._borrowed(external_context))

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        """Run ``script`` with the task data as its namespace, then write its variables back as task data.

        Assigned names become task data, deleted names leave it. Nothing is written if the script fails or
        leaves a value that is not plain JSON, so a refused script leaves ``context`` as it found it.
        Returns True, which SpiffWorkflow takes as "task complete".
        """
        compile_script(script, "exec")
        results = isolation.SCRIPTS.run("exec", script, self._data(context), self._borrowed(external_context))
        for name in [name for name in context if is_data_name(name) and name not in results]:
            del context[name]
        context.update(results)
        return True

    def _data(self, context: Mapping[str, Any]) -> dict[str, Any]:
        return copy_task_data({name: value for name, value in context.items() if is_data_name(name)})

    def _borrowed(self, external_context: Mapping[str, Any] | None) -> dict[str, Any]:
        return {**self.globals, **(external_context or {})}


def run_here(mode: Literal["exec", "eval"], source: str, data: dict[str, Any], borrowed: dict[str, Any]) -> Any:
    """Run a script or expression in this process, on plain task data (``engine.bpmn.isolation`` calls
    it in a script's child): an expression's value, or a script's task data after it ran."""
    namespace = {**borrowed, **data}
    value = _run(compile_script(source, mode), namespace)
    if mode == "eval":
        return PlainCopier().copy(value, "the expression's value")
    return copy_task_data({k: v for k, v in namespace.items() if is_data_name(k) and (k in data or k not in borrowed)})


def _run(code: CodeType, namespace: dict[str, Any]) -> Any:
    """Run compiled code in ``namespace`` (to which the guards are added) under a fresh budget."""
    budget = Budget()
    namespace.update(GUARDS, _step_=budget.step, _getiter_=budget.iterate)
    try:
        value = eval(code, namespace)  # noqa: S307 - the code was compiled by RestrictedPython with our policy
    except Exception as error:
        raise runtime_error(error) from error
    budget.check()
    return value


class SandboxScriptEngine(PythonScriptEngine):
    """The script engine every BpmnWorkflow must get: SpiffWorkflow's engine running in a SandboxEnvironment."""

    def __init__(self, environment: SandboxEnvironment | None = None) -> None:
        super().__init__(environment=environment or SandboxEnvironment())

    def call_service(self, task: Any, operation_name: str, operation_params: dict[str, Any], **_: Any) -> str:
        """Service tasks run registered operations (live) or their recorded results (replay).

        Overridden rather than inherited: SpiffWorkflow's own version masks failures with a NameError.
        """
        params = {name: param["value"] for name, param in operation_params.items()}
        return service_calls.call(operation_name, params)
