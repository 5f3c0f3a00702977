"""The deploy-time check: every script and expression of a definition compiled when it is uploaded, so a refused
one fails the deployment rather than a running process months later."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

from SpiffWorkflow.specs.base import TaskSpec

from engine.kernel.errors import DefinitionError, ScriptError
from engine.bpmn.sandbox.policy import compile_script


# -- Deploy-time check -----------------------------------------------------------------------------------------


def check_definition_scripts(task_specs: Iterable[TaskSpec], filename: str) -> None:
    """Compile every script and expression of a definition now, so a refused one fails the deployment.

    Otherwise an ``import os`` in a rarely taken branch would deploy fine and fail months later, in the
    middle of a running consultation. Only compile-time refusals can be found here: a name such as ``open``
    might be task data, so names are still checked when the script runs.
    """
    for task_spec in task_specs:
        for what, source, mode in _definition_sources(task_spec):
            if not isinstance(source, str):  # an absent optional expression (no payload, no condition, …)
                continue
            try:
                compile_script(source, mode)
            except ScriptError as error:
                raise DefinitionError(
                    f"{what}: {error.message}", file=filename, element_id=task_spec.bpmn_id, **error.details
                ) from error


def check_expression(source: str) -> None:
    """Compile one expression as the sandbox will run it; raises ``ScriptError`` if it is refused.

    For expressions that are not attributes of a task spec, such as the cells of a DMN table.
    """
    compile_script(source, "eval")


def _definition_sources(task_spec: TaskSpec) -> Iterator[tuple[str, Any, Literal["exec", "eval"]]]:
    """(what, source, mode) for each script and expression SpiffWorkflow may run for this task spec.

    Duck-typed on the attributes SpiffWorkflow 3.2's spec classes use (script tasks, Spiff pre/post scripts,
    loop and multi-instance tasks, gateways, service task parameters, event definitions). DMN tables are not
    covered: SpiffWorkflow assembles their expressions from cells only when it runs them (still sandboxed).
    """
    for attribute, mode in _SCRIPT_ATTRIBUTES:
        yield attribute, getattr(task_spec, attribute, None), mode
    for condition, target in getattr(task_spec, "cond_task_specs", ()):
        if condition is not None:
            yield f"condition towards {target}", condition.args[0], "eval"
    for name, parameter in (getattr(task_spec, "operation_params", None) or {}).items():
        yield f"parameter {name}", parameter["value"], "eval"
    yield from _event_sources(getattr(task_spec, "event_definition", None))


_SCRIPT_ATTRIBUTES: tuple[tuple[str, Literal["exec", "eval"]], ...] = (
    ("script", "exec"),
    ("prescript", "exec"),
    ("postscript", "exec"),
    ("cardinality", "eval"),
    ("condition", "eval"),
)


def _event_sources(definition: Any) -> Iterator[tuple[str, Any, Literal["exec", "eval"]]]:
    """Timer, conditional and payload expressions, and correlation retrieval expressions, of an event."""
    if definition is None:
        return
    for child in getattr(definition, "event_definitions", ()):
        yield from _event_sources(child)
    yield "event expression", getattr(definition, "expression", None), "eval"
    for prop in [*getattr(definition, "correlation_properties", ()), *getattr(definition, "process_correlations", ())]:
        yield f"correlation property {prop.name}", prop.retrieval_expression, "eval"
