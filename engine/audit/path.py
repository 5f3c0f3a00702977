"""The executed path, as a diagram shows it: each BPMN element's state and each sequence flow's count, as of one event.

Time travel (``engine.audit.time_travel``) replays an instance up to an event and counts what completed and which
flows were taken. ``executed_path`` turns that snapshot into what an auditor's diagram marks — a pure function, so
the API, the web page and an offline tool mark the same elements the same way:

- ``ready``: a user task open then (waiting for someone of its lane);
- ``error``: the task that failed;
- ``waiting``: an event armed with a timer (a deadline not yet reached);
- ``completed``: finished at least once (``completed`` counts how many times);
- elements a token never reached are absent (``not_reached`` in ``path_rows``).

An element both completed and open again (a loop) is shown as open: what it is now matters more than what it was.

``diagram_elements`` reads the ids, names, kinds and lanes of a definition's flow nodes and sequence flows from its
BPMN file (the safe parser), so that a table can list every element, reached or not. ``instance_path`` is the
entry point for callers with a role (auditors, admins, committee: as time travel), and ``chain_links`` says, for
each event of an instance, whether its hash still matches its content and links to the event before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit.access import CHECKING_ROLES
from engine.audit.sealing import chain
from engine.audit.time_travel import Snapshot, instance_as_of
from engine.bpmn.lanes import Lane, lane_of
from engine.bpmn.xml import BPMN_NS, read_xml
from engine.identity.actors import Actor
from engine.kernel.errors import NotFound
from engine.kernel.instances import get_instance
from engine.kernel.models import Event, Instance

STATES = ("ready", "error", "waiting", "completed")
"""Element states on a diagram, the strongest first."""
NOT_REACHED = "not_reached"
FLOW_NODES = frozenset({
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask", "businessRuleTask",
    "callActivity", "subProcess", "transaction",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway",
})


@dataclass(frozen=True)
class ExecutedPath:
    """What a diagram marks as of one event."""

    elements: dict[str, str]
    """BPMN element id → its state (``STATES``); elements never reached are absent."""
    completed: dict[str, int]
    """BPMN element id → how many times it completed."""
    flows: dict[str, int]
    """Sequence flow id → how many times a token went along it."""


@dataclass(frozen=True)
class DiagramElement:
    id: str
    name: str | None
    kind: str
    """The BPMN tag without its namespace: ``userTask``, ``exclusiveGateway``, ``sequenceFlow``, …"""
    lane: str | None
    """The role whose members act in the flow node's lane (the lane's ``role`` property, else its name), as the task
    index and the permission checks see it."""
    lane_name: str | None = None
    """The lane's name, as the diagram shows it (``居委会 Committee``)."""
    source: str | None = None
    target: str | None = None


def executed_path(snapshot: Snapshot) -> ExecutedPath:
    """The state of each reached element and the count of each taken flow, from a time-travel snapshot."""
    states: dict[str, str] = {element: "completed" for element, times in snapshot.completed_elements.items() if times}
    for timer in snapshot.pending_timers:
        states[timer.element_id] = _stronger(states.get(timer.element_id), "waiting")
    for task in snapshot.open_tasks:
        states[task.element_id] = _stronger(states.get(task.element_id), "error" if task.state == "ERROR" else "ready")
    return ExecutedPath(
        elements=dict(sorted(states.items())),
        completed=dict(sorted((k, v) for k, v in snapshot.completed_elements.items() if v)),
        flows=dict(sorted((k, v) for k, v in snapshot.flows_taken.items() if v)),
    )


def _stronger(current: str | None, new: str) -> str:
    if current is None:
        return new
    return new if STATES.index(new) < STATES.index(current) else current


def diagram_elements(source: str | bytes) -> list[DiagramElement]:
    """Every flow node and sequence flow of a BPMN file, in the file's order, with its lane's role and name (a node in
    nested lanes gets its innermost lane's, as SpiffWorkflow reads them)."""
    raw = source.encode("utf-8") if isinstance(source, str) else source
    root = read_xml(raw, "definition").getroot()
    lanes: dict[str, Lane] = {}
    for ref in root.iter(f"{{{BPMN_NS}}}flowNodeRef"):
        if ref.text:
            lanes[ref.text.strip()] = lane_of(ref.getparent())
    found: list[DiagramElement] = []
    for node in root.iter():
        if not isinstance(node.tag, str) or not node.tag.startswith(f"{{{BPMN_NS}}}"):
            continue
        kind = node.tag.split("}", 1)[1]
        if kind in FLOW_NODES and node.get("id"):
            lane = lanes.get(node.get("id"))
            found.append(DiagramElement(node.get("id"), node.get("name"), kind, lane.role if lane else None,
                                        lane.name if lane else None))
        elif kind == "sequenceFlow" and node.get("id"):
            found.append(DiagramElement(node.get("id"), node.get("name"), kind, None, None, node.get("sourceRef"), node.get("targetRef")))
    return found


def path_rows(path: ExecutedPath, elements: list[DiagramElement]) -> dict[str, list[dict[str, Any]]]:
    """The path as tables: every flow node with its state and times completed, every flow with its times taken."""
    nodes = [{"id": e.id, "name": e.name, "kind": e.kind, "lane": e.lane, "lane_name": e.lane_name,
              "state": path.elements.get(e.id, NOT_REACHED), "completed": path.completed.get(e.id, 0)}
             for e in elements if e.kind != "sequenceFlow"]
    flows = [{"id": e.id, "name": e.name, "source": e.source, "target": e.target, "taken": path.flows.get(e.id, 0)}
             for e in elements if e.kind == "sequenceFlow"]
    return {"elements": nodes, "flows": flows}


def instance_path(session: Session, actor: Actor, instance_id: str, seq: int | None = None) -> dict[str, Any]:
    """The executed path of an instance of the caller's community as of its event ``seq`` (its last by default)."""
    actor.require(*CHECKING_ROLES)
    instance = get_instance(session, actor, instance_id)
    return path_of(session, instance, instance.last_seq if seq is None else seq)


def path_of(session: Session, instance: Instance, seq: int) -> dict[str, Any]:
    if seq < 1 or seq > instance.last_seq:
        raise NotFound(f"instance {instance.id} has no event {seq}: its last event is {instance.last_seq}")
    snapshot = instance_as_of(session, instance, seq)
    path = executed_path(snapshot)
    return {
        "instance_id": instance.id,
        "definition_key": instance.definition.key,
        "definition_version": instance.definition.version,
        "seq": snapshot.seq,
        "last_seq": instance.last_seq,
        "at": snapshot.at.isoformat(),
        "event_type": snapshot.event_type,
        "status": snapshot.status,
        "states": path.elements,
        "completed": path.completed,
        "flows_taken": path.flows,
        **path_rows(path, diagram_elements(instance.definition.source)),
        "open_tasks": [{"id": t.id, "element_id": t.element_id, "name": t.name, "lane": t.lane, "state": t.state}
                       for t in snapshot.open_tasks],
        "pending_timers": [{"element_id": t.element_id, "name": t.name, "due_at": t.due_at.isoformat()}
                           for t in snapshot.pending_timers],
        "history_matches": snapshot.history_matches,
    }


def chain_links(session: Session, actor: Actor, instance_id: str) -> list[dict[str, Any]]:
    """Each event of the instance, oldest first: ``linked`` (its previous hash is the event before's hash) and
    ``sealed`` (its hash, recomputed from its content with the instance's salt, is the one stored)."""
    actor.require(*CHECKING_ROLES)
    instance = get_instance(session, actor, instance_id)
    table = Event.__table__
    rows = session.execute(select(table).where(table.c.instance_id == instance.id).order_by(table.c.seq)).mappings()
    links, previous = [], chain.GENESIS
    for row in rows:
        event = dict(row)
        links.append({"seq": event["seq"], "hash": event["hash"], "linked": event["prev_hash"] == previous,
                      "sealed": chain.hash_of(instance.salt, event) == event["hash"]})
        previous = event["hash"]
    return links
