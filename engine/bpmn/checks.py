"""Deploy-time checks of a definition's size and of the values written in it, before SpiffWorkflow parses it.

Run on the XML tree that ``engine.bpmn.xml`` read, so each refusal names the file, the element and its
line, and the limit (from ``engine.bpmn.limits``) it breaks, in the message and in ``details['limit']``:

* size: flow elements in the file, the longest chain the parser will follow (it recurses along sequence
  flows), subprocesses nested in one another — so that a generated 20,000-task file is refused here,
  not by a ``RecursionError`` deep inside SpiffWorkflow;
* timers whose expression is a literal (``"PT2H"``, as the bundled processes write them) must be ISO 8601
  within bounds; computed ones (``opinion_deadline``) are checked when armed (``engine.bpmn.arming``);
* a literal ``loopCardinality`` must be a whole number within ``MAX_MULTI_INSTANCES``.
"""

from __future__ import annotations

import ast
from typing import Any, Iterator

from lxml import etree

from engine.bpmn.limits import MAX_FLOW_DEPTH, MAX_FLOW_ELEMENTS, MAX_MULTI_INSTANCES, MAX_NESTING_DEPTH
from engine.bpmn.timer_values import KINDS, TimerValueError, check_timer_value
from engine.kernel.errors import DefinitionError

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_NS = {"bpmn": BPMN_NS}

FLOW_NODES = frozenset({
    "task", "userTask", "scriptTask", "serviceTask", "manualTask", "businessRuleTask", "sendTask", "receiveTask",
    "callActivity", "subProcess", "transaction", "adHocSubProcess",
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway",
})
"""The BPMN flow nodes SpiffWorkflow turns into task specs; with sequence flows, what ``MAX_FLOW_ELEMENTS`` counts."""

_CONTAINERS = frozenset({"process", "subProcess", "transaction", "adHocSubProcess"})


def check_definition(tree: etree._ElementTree, file: str) -> None:
    """Refuse a definition that breaks a limit; the cheap counts come first, before anything walks the flows."""
    _check_size(tree, file)
    _check_nesting(tree, file)
    for process in tree.getroot().iter(f"{{{BPMN_NS}}}process"):
        _check_flow_depth(process, file)
    _check_timers(tree, file)
    _check_shared_timers(tree, file)
    _check_cardinalities(tree, file)


def _refuse(
    message: str, file: str, element: etree._Element | None, limit: str | None = None, line: int | None = None
) -> DefinitionError:
    element_id = _nearest_id(element) if element is not None else None
    line = line or (element.sourceline if element is not None else None)
    return DefinitionError(message, file=file, element_id=element_id, line=line, limit=limit)


def _local(element: etree._Element) -> str | None:
    name = etree.QName(element)
    return name.localname if name.namespace == BPMN_NS else None


def _check_size(tree: etree._ElementTree, file: str) -> None:
    count = 0
    for element in tree.getroot().iter(etree.Element):
        name = _local(element)
        if name in FLOW_NODES or name == "sequenceFlow":
            count += 1
            if count > MAX_FLOW_ELEMENTS:
                raise _refuse(
                    f"the definition has more than MAX_FLOW_ELEMENTS ({MAX_FLOW_ELEMENTS}) flow elements"
                    " (tasks, events, gateways and sequence flows)", file, None, "MAX_FLOW_ELEMENTS",
                )


def _check_nesting(tree: etree._ElementTree, file: str) -> None:
    for element in tree.getroot().iter(*(f"{{{BPMN_NS}}}{name}" for name in _CONTAINERS - {"process"})):
        depth = sum(1 for ancestor in element.iterancestors() if _local(ancestor) in _CONTAINERS - {"process"}) + 1
        if depth > MAX_NESTING_DEPTH:
            raise _refuse(
                f"subprocesses are nested {depth} deep, more than MAX_NESTING_DEPTH ({MAX_NESTING_DEPTH})",
                file, element, "MAX_NESTING_DEPTH",
            )


def _check_flow_depth(container: etree._Element, file: str) -> None:
    """Walk the flows as SpiffWorkflow's parser does (depth first from each start event, each node once,
    boundary events with their activity, a subprocess's own flows when it is met) without recursing, and
    refuse the file when the walk gets deeper than ``MAX_FLOW_DEPTH``."""
    depth, element = _deepest(container, 0)
    if depth > MAX_FLOW_DEPTH:
        raise _refuse(
            f"more than MAX_FLOW_DEPTH ({MAX_FLOW_DEPTH}) flow nodes follow one another in a chain from a start event",
            file, element, "MAX_FLOW_DEPTH",
        )


def _deepest(container: etree._Element, base: int) -> tuple[int, etree._Element | None]:
    """The deepest point (and the node there) of the parser's walk through ``container``, starting at ``base``.

    Recursion here goes one level per nested subprocess only, which ``_check_nesting`` has bounded.
    """
    nodes = {el.get("id"): el for el in container.iterchildren(etree.Element) if _local(el) in FLOW_NODES}
    targets: dict[str, list[str]] = {}
    for flow in container.iterchildren(f"{{{BPMN_NS}}}sequenceFlow"):
        targets.setdefault(flow.get("sourceRef"), []).append(flow.get("targetRef"))
    for boundary in (el for el in nodes.values() if _local(el) == "boundaryEvent"):
        targets.setdefault(boundary.get("attachedToRef"), []).append(boundary.get("id"))
    deepest, where = base, None
    seen: set[str] = set()
    stack: list[Iterator[str]] = []

    def push(node_id: str) -> bool:
        """Enter a node; True when the walk is already deeper than the limit."""
        nonlocal deepest, where
        seen.add(node_id)
        stack.append(iter(targets.get(node_id, ())))
        here, node = base + len(stack), nodes[node_id]
        if _local(node) in _CONTAINERS:
            inner, inner_where = _deepest(node, here)
            if inner > deepest:
                deepest, where = inner, inner_where
        if here > deepest:
            deepest, where = here, node
        return deepest > MAX_FLOW_DEPTH

    for start in (node_id for node_id, el in nodes.items() if _local(el) == "startEvent"):
        if start in seen:
            continue
        if push(start):
            return deepest, where
        while stack:
            child = next((c for c in stack[-1] if c in nodes and c not in seen), None)
            if child is None:
                stack.pop()
            elif push(child):
                return deepest, where
    return deepest, where


def _literal(expression: str | None) -> tuple[bool, Any]:
    """(True, value) when the expression is one Python constant (``"PT2H"``, ``5``, ``None``), else (False, None)."""
    if expression is None:
        return False, None
    try:
        body = ast.parse(expression.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False, None  # the sandbox's compile check reports it, naming the element
    if isinstance(body, ast.Constant):
        return True, body.value
    return False, None


def _check_timers(tree: etree._ElementTree, file: str) -> None:
    for kind in KINDS:
        for element in tree.getroot().iter(f"{{{BPMN_NS}}}{kind}"):
            literal, value = _literal(element.text)
            if not literal:
                continue
            try:
                check_timer_value(kind, value)
            except TimerValueError as exc:
                raise _refuse(f"timer {exc.message}", file, _event_of(element), exc.limit, element.sourceline) from exc


def _check_shared_timers(tree: etree._ElementTree, file: str) -> None:
    """SpiffWorkflow 3.2 arms the events after an event-based gateway (and those of a multiple event) on one
    task, which keeps one timer value: with two timers, the second reads the first's deadline as its own."""
    timer = f"{{{BPMN_NS}}}timerEventDefinition"
    for gateway in tree.getroot().iter(f"{{{BPMN_NS}}}eventBasedGateway"):
        container = gateway.getparent()
        targets = container.xpath("bpmn:sequenceFlow[@sourceRef=$id]/@targetRef", namespaces=_NS, id=gateway.get("id"))
        timed = [t for t in targets if container.xpath("bpmn:*[@id=$id]/bpmn:timerEventDefinition", namespaces=_NS, id=t)]
        if len(timed) > 1:
            raise _refuse(
                f"an event-based gateway may wait for one timer only (it waits for {', '.join(timed)}):"
                " SpiffWorkflow 3.2 keeps one timer value per gateway", file, gateway)
    for element in tree.getroot().iter(etree.Element):
        if _local(element) in FLOW_NODES and len(element.findall(timer)) > 1:
            raise _refuse("an event may have one timer definition only: SpiffWorkflow 3.2 keeps one timer value per event",
                          file, element)


def _check_cardinalities(tree: etree._ElementTree, file: str) -> None:
    for element in tree.getroot().iter(f"{{{BPMN_NS}}}loopCardinality"):
        literal, value = _literal(element.text)
        if not literal:
            continue
        if type(value) is not int or value < 0:
            raise _refuse(f"the loop cardinality must be a whole number ≥ 0, not {value!r}", file, element)
        if value > MAX_MULTI_INSTANCES:
            raise _refuse(
                f"the loop cardinality {value} is more than MAX_MULTI_INSTANCES ({MAX_MULTI_INSTANCES})",
                file, element, "MAX_MULTI_INSTANCES",
            )


def _event_of(element: etree._Element) -> etree._Element:
    """The event a timer value belongs to, which is what the engine names at run time too."""
    return next((a for a in element.iterancestors() if _local(a) in FLOW_NODES), element)


def _nearest_id(element: etree._Element) -> str | None:
    for candidate in (element, *element.iterancestors()):
        if candidate.get("id"):
            return candidate.get("id")
    return None
