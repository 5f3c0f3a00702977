"""Small BPMN documents written inline for tests, valid against the BPMN XSD.

``linear(key, *nodes)`` strings flow nodes between a start and an end event, with sequence flows
between them and every node in a lane (``committee`` unless a node says otherwise). Non-linear
shapes (a gateway, a boundary timer) have builders of their own. Diagram elements are left out:
they are optional and the engine never reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="test_definitions" targetNamespace="http://yishi.org/bpmn/test">
"""


@dataclass(frozen=True)
class Node:
    """A flow node; ``xml`` has a ``{flows}`` slot where its incoming and outgoing references go."""

    id: str
    xml: str
    lane: str = "committee"

    def render(self, incoming: str | None, outgoing: str | None) -> str:
        flows = "".join(
            f"<bpmn:{kind}>{ref}</bpmn:{kind}>" for kind, ref in (("incoming", incoming), ("outgoing", outgoing)) if ref
        )
        return self.xml.replace("{flows}", flows)


def _properties(**properties: str | None) -> str:
    items = "".join(
        f"<spiffworkflow:property name={quoteattr(name)} value={quoteattr(value)} />"
        for name, value in properties.items() if value is not None
    )
    return f"<bpmn:extensionElements><spiffworkflow:properties>{items}</spiffworkflow:properties></bpmn:extensionElements>" if items else ""


def user_task(
    id: str, name: str | None = None, *, lane: str = "committee",
    form: str | None = None, precondition: str | None = None, collects: str | None = None,
) -> Node:
    props = _properties(formSchema=form, precondition=precondition, collects=collects)
    return Node(id, f'<bpmn:userTask id="{id}" name={quoteattr(name or id)}>{props}{{flows}}</bpmn:userTask>', lane)


def script_task(id: str, script: str) -> Node:
    return Node(
        id, f'<bpmn:scriptTask id="{id}" scriptFormat="python">{{flows}}<bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>'
    )


def timer_event(id: str, expression: str, kind: str = "timeDuration") -> Node:
    """An intermediate timer catch event; ``expression`` is Python (``'"PT2H"'``, with the quotes)."""
    return Node(id, f'<bpmn:intermediateCatchEvent id="{id}">{{flows}}{_timer(id, expression, kind)}</bpmn:intermediateCatchEvent>')


def call_activity(id: str, called: str) -> Node:
    return Node(id, f'<bpmn:callActivity id="{id}" calledElement="{called}">{{flows}}</bpmn:callActivity>')


def _timer(id: str, expression: str, kind: str) -> str:
    return (
        f'<bpmn:timerEventDefinition id="{id}_definition">'
        f'<bpmn:{kind} xsi:type="bpmn:tFormalExpression">{escape(expression)}</bpmn:{kind}>'
        f"</bpmn:timerEventDefinition>"
    )


def _lanes(key: str, nodes: list[Node]) -> str:
    lanes: dict[str, list[str]] = {}
    for node in nodes:
        lanes.setdefault(node.lane, []).append(node.id)
    body = "".join(
        f'<bpmn:lane id="{key}_lane_{lane}" name="{lane}">'
        + "".join(f"<bpmn:flowNodeRef>{ref}</bpmn:flowNodeRef>" for ref in refs)
        + "</bpmn:lane>"
        for lane, refs in lanes.items()
    )
    return f'<bpmn:laneSet id="{key}_lanes">{body}</bpmn:laneSet>'


def flow(id: str, source: str, target: str, condition: str | None = None) -> str:
    if condition is None:
        return f'<bpmn:sequenceFlow id="{id}" sourceRef="{source}" targetRef="{target}" />'
    return (
        f'<bpmn:sequenceFlow id="{id}" sourceRef="{source}" targetRef="{target}">'
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(condition)}</bpmn:conditionExpression>'
        f"</bpmn:sequenceFlow>"
    )


def process(key: str, *nodes: Node, name: str | None = None, executable: bool = True) -> str:
    """One process: start → nodes… → end, with a sequence flow between each pair (ids prefixed by the key)."""
    chain = [Node(f"{key}_start", f'<bpmn:startEvent id="{key}_start">{{flows}}</bpmn:startEvent>'), *nodes,
             Node(f"{key}_end", f'<bpmn:endEvent id="{key}_end">{{flows}}</bpmn:endEvent>')]
    flows = [f"{key}_f{i}" for i in range(len(chain) - 1)]
    elements = [
        node.render(flows[i - 1] if i > 0 else None, flows[i] if i < len(flows) else None) for i, node in enumerate(chain)
    ]
    elements += [flow(flows[i], chain[i].id, chain[i + 1].id) for i in range(len(flows))]
    return _process(key, name, executable, chain, elements)


def _process(key: str, name: str | None, executable: bool, nodes: list[Node], elements: list[str]) -> str:
    return (
        f'<bpmn:process id="{key}" name={quoteattr(name or key)} isExecutable="{str(executable).lower()}">'
        + _lanes(key, nodes) + "\n" + "\n".join(elements) + "</bpmn:process>\n"
    )


def definitions(*processes: str) -> bytes:
    return (HEADER + "".join(processes) + "</bpmn:definitions>\n").encode("utf-8")


def linear(key: str, *nodes: Node, name: str | None = None) -> bytes:
    return definitions(process(key, *nodes, name=name))


def minimal(key: str = "sample", *, task_name: str = "Review", script: str | None = None) -> bytes:
    """start → (script) → user task ``review`` in the committee lane → end."""
    nodes = [script_task("prepare", script)] if script is not None else []
    return linear(key, *nodes, user_task("review", task_name))


def gateway(key: str, condition: str) -> bytes:
    """start → exclusive gateway: ``condition`` leads to user task ``yes``, the default flow to ``no``."""
    nodes = [
        Node("start", '<bpmn:startEvent id="start"><bpmn:outgoing>to_choice</bpmn:outgoing></bpmn:startEvent>'),
        Node("choice", '<bpmn:exclusiveGateway id="choice" default="to_no"><bpmn:incoming>to_choice</bpmn:incoming>'
                       '<bpmn:outgoing>to_yes</bpmn:outgoing><bpmn:outgoing>to_no</bpmn:outgoing></bpmn:exclusiveGateway>'),
        *[Node(t, f'<bpmn:userTask id="{t}"><bpmn:incoming>to_{t}</bpmn:incoming><bpmn:outgoing>{t}_end</bpmn:outgoing></bpmn:userTask>')
          for t in ("yes", "no")],
        Node("end", '<bpmn:endEvent id="end"><bpmn:incoming>yes_end</bpmn:incoming><bpmn:incoming>no_end</bpmn:incoming></bpmn:endEvent>'),
    ]
    elements = [n.xml for n in nodes] + [
        flow("to_choice", "start", "choice"), flow("to_yes", "choice", "yes", condition), flow("to_no", "choice", "no"),
        flow("yes_end", "yes", "end"), flow("no_end", "no", "end"),
    ]
    return definitions(_process(key, None, True, nodes, elements))


def boundary_timer(key: str, expression: str, kind: str = "timeDuration") -> bytes:
    """start → user task ``work`` → end, with an interrupting timer ``too_late`` on it leading to task ``escalate``."""
    nodes = [
        Node("start", '<bpmn:startEvent id="start"><bpmn:outgoing>to_work</bpmn:outgoing></bpmn:startEvent>'),
        Node("work", '<bpmn:userTask id="work" name="Work"><bpmn:incoming>to_work</bpmn:incoming>'
                     '<bpmn:outgoing>work_done</bpmn:outgoing></bpmn:userTask>'),
        Node("too_late", f'<bpmn:boundaryEvent id="too_late" attachedToRef="work" cancelActivity="true">'
                         f'<bpmn:outgoing>to_escalate</bpmn:outgoing>{_timer("too_late", expression, kind)}</bpmn:boundaryEvent>'),
        Node("escalate", '<bpmn:userTask id="escalate" name="Escalate"><bpmn:incoming>to_escalate</bpmn:incoming>'
                         '<bpmn:outgoing>escalated</bpmn:outgoing></bpmn:userTask>'),
        Node("end", '<bpmn:endEvent id="end"><bpmn:incoming>work_done</bpmn:incoming><bpmn:incoming>escalated</bpmn:incoming></bpmn:endEvent>'),
    ]
    elements = [n.xml for n in nodes] + [
        flow("to_work", "start", "work"), flow("work_done", "work", "end"),
        flow("to_escalate", "too_late", "escalate"), flow("escalated", "escalate", "end"),
    ]
    return definitions(_process(key, None, True, nodes, elements))


def service_task(id: str, operation: str, result_variable: str, **params: str) -> Node:
    """A service task calling a registered operation; each parameter value is a Python expression."""
    parameters = "".join(
        f'<spiffworkflow:parameter id={quoteattr(name)} type="any" value={quoteattr(value)} />' for name, value in params.items()
    )
    operator = (
        f'<bpmn:extensionElements><spiffworkflow:serviceTaskOperator id={quoteattr(operation)} '
        f'resultVariable={quoteattr(result_variable)}><spiffworkflow:parameters>{parameters}</spiffworkflow:parameters>'
        f"</spiffworkflow:serviceTaskOperator></bpmn:extensionElements>"
    )
    return Node(id, f'<bpmn:serviceTask id="{id}">{operator}{{flows}}</bpmn:serviceTask>')
