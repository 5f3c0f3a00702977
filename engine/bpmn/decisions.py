"""DMN decision tables: read them safely, check every cell at deployment, evaluate them in the sandbox.

A decision table is deployed as a definition of its own (its key is the decision's id), versioned
like a process, so that a domain can pin the version it decides with and a new version changes
only what is decided afterwards. SpiffWorkflow's DMN parser reads the table and its DMN engine
matches the rules; every cell it assembles into an expression runs through the sandboxed script
engine, so a table is no more able to reach the server than a script task is.
"""

from __future__ import annotations

import ast
import copy
import functools
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.dmn.specs.model import DecisionTable, HitPolicy
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.bpmn.sandbox import check_expression, script_error_from
from engine.bpmn.workflows import SCRIPT_ENGINE
from engine.bpmn.xml import read_xml, validate_dmn
from engine.kernel.errors import DefinitionError, ScriptError


@dataclass(frozen=True)
class ParsedDecision:
    """The one decision of a DMN file: its id (the definition's key), name, and what it takes and gives."""

    key: str
    name: str
    summary: dict[str, Any]


def parse_decision(filename: str, source: bytes) -> ParsedDecision:
    """Read a DMN file safely, parse its single decision table and compile every cell."""
    tree = read_xml(source, filename)
    validate_dmn(tree, filename)
    key, name, table = _read_table(filename, tree)
    _check_cells(filename, key, table)
    summary = {
        "decision": key,
        "hit_policy": table.hit_policy,
        "inputs": [{"label": i.label, "expression": i.expression} for i in table.inputs],
        "outputs": [o.name or o.label for o in table.outputs],
        "rules": len(table.rules),
    }
    return ParsedDecision(key, name or key, summary)


def evaluate(filename: str, source: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The outputs of the first matching rule (all of them under COLLECT) for ``inputs``.

    Raises ``ScriptError`` when a cell fails on these inputs or no rule matches: the table, not
    the caller, is at fault, so the instance deciding with it should wait for an admin.
    """
    engine = _engine(filename, source)
    try:
        outputs = dict(engine.result(_DecisionTask(inputs, engine.decision_table.id, filename, SCRIPT_ENGINE)))
    except (WorkflowException, ScriptError) as exc:
        cause = script_error_from(exc)
        raise ScriptError(f"decision table {filename} failed: {cause.message if cause else exc}") from exc
    if not outputs:
        raise ScriptError(f"no rule of decision table {filename} matches {inputs}")
    return outputs


@functools.lru_cache(maxsize=64)
def _engine(filename: str, source: str) -> DMNEngine:
    """Parsed once per version: a deployed version's source never changes."""
    _, _, table = _read_table(filename, read_xml(source.encode("utf-8"), filename))
    return DMNEngine(table)


def _read_table(filename: str, tree: Any) -> tuple[str, str, DecisionTable]:
    root = tree.getroot()
    decisions = [child for child in root if isinstance(child.tag, str) and child.tag.endswith("}decision")]
    if len(decisions) != 1:
        raise DefinitionError(f"a DMN file must hold exactly one decision (found {len(decisions)})", file=filename)
    parser = SpiffBpmnParser()
    try:
        parser.add_dmn_xml(root, filename)
        engine = parser.get_engine(decisions[0].get("id"), root)
    except ValidationException as exc:
        raise DefinitionError(str(exc.args[0]) if exc.args else str(exc), file=filename,
                              element_id=getattr(exc, "id", None) or None, line=getattr(exc, "line_number", None) or None) from exc
    except (IndexError, KeyError) as exc:
        raise DefinitionError("the decision needs a decision table, and every input, output, rule and entry an id",
                              file=filename, element_id=decisions[0].get("id")) from exc
    table = engine.decision_table
    missing = [i.label or i.id for i in table.inputs if not i.expression]
    if missing:
        raise DefinitionError(f"every input needs an input expression (missing: {', '.join(missing)})",
                              file=filename, element_id=decisions[0].get("id"))
    return decisions[0].get("id"), decisions[0].get("name", ""), table


class _CompileOnly:
    """A script engine that compiles what the DMN engine would evaluate, and evaluates nothing.

    Run against it, SpiffWorkflow's own rule matching assembles every cell exactly as it will at
    run time (an ``== `` added or not, ``?`` replaced), so the sandbox sees the real expressions.
    """

    @staticmethod
    def validate(expression: str) -> None:
        """Parse only, as the sandboxed engine's (inherited) ``validate`` does: it decides where ``==`` goes."""
        ast.parse(expression)

    @staticmethod
    def evaluate(task: Any, expression: str, external_context: dict[str, Any] | None = None) -> bool:
        check_expression(expression)
        return True


def _check_cells(filename: str, key: str, table: DecisionTable) -> None:
    """Compile every input, input entry and output entry; every rule 'matches' under COLLECT."""
    every_rule = copy.copy(table)
    every_rule.hit_policy = HitPolicy.COLLECT.value
    try:
        DMNEngine(every_rule).result(_DecisionTask({}, key, filename, _CompileOnly()))
    except (WorkflowException, ScriptError) as exc:
        cause = script_error_from(exc)
        raise DefinitionError(f"a cell of the decision table is refused: {cause.message if cause else exc}",
                              file=filename, element_id=key) from exc


class _DecisionTask:
    """What SpiffWorkflow's DMN engine reads of the task it decides for: the data, the workflow's
    script engine, and — for its error messages — a task spec and a workflow spec with names."""

    def __init__(self, data: dict[str, Any], decision: str, filename: str, script_engine: Any) -> None:
        self.data = data
        self.task_spec = SimpleNamespace(name=decision, bpmn_id=decision, bpmn_name=decision)
        self.workflow = SimpleNamespace(script_engine=script_engine, spec=SimpleNamespace(file=filename), parent_workflow=None)
        self.workflow.top_workflow = self.workflow
