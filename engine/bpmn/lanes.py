"""Lanes and the roles they stand for: a lane's name is for people, its ``role`` property is for the engine.

A lane declares the role whose members complete its user tasks with a Spiff extension property::

    <bpmn:lane id="lane_committee" name="居委会 Committee">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="role" value="committee" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:flowNodeRef>…</bpmn:flowNodeRef>
    </bpmn:lane>

A lane that declares no role stands for the role its name spells, as every lane did before roles were
declared: older community definitions and every stored spec keep their meaning unchanged.

At deployment ``RoleLaneParser`` gives each task spec its lane's *role* as ``task_spec.lane`` (where
SpiffWorkflow puts the lane's name), so the stored spec, the task index, the permission checks, the
agenda and the desk all see role ids whatever the lanes are called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from lxml import etree
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.kernel.errors import DefinitionError

BPMN_NS: Final = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS: Final = "http://spiffworkflow.org/bpmn/schema/1.0/core"
ROLE_PROPERTY: Final = "role"
MAX_ROLE_LENGTH: Final = 100
"""The task index stores a task's role in a column of this width (``HumanTask.lane``)."""

_NS: Final = {"bpmn": BPMN_NS, "spiff": SPIFF_NS}


@dataclass(frozen=True)
class Lane:
    """One lane of a diagram: its id and name as drawn, and the role whose members act in it."""

    id: str | None
    name: str | None
    role: str | None
    """The declared role, or else the lane's name (None for a lane with neither)."""
    declared: bool
    """Whether the lane declares its role (``role`` property) rather than standing for its name."""
    line: int | None = None


def declared_roles(lane: etree._Element) -> list[str]:
    """The values of the lane's own ``role`` properties (not those of lanes nested in it)."""
    return [str(v) for v in lane.xpath(
        "bpmn:extensionElements/spiff:properties/spiff:property[@name=$name]/@value", namespaces=_NS, name=ROLE_PROPERTY)]


def lane_of(element: etree._Element) -> Lane:
    roles = declared_roles(element)
    name = element.get("name")
    return Lane(element.get("id"), name, roles[0] if roles else name, bool(roles), element.sourceline)


def lanes(root: etree._Element) -> list[Lane]:
    """Every lane of the document, in the file's order (nested lanes after their parent)."""
    return [lane_of(element) for element in root.iter(f"{{{BPMN_NS}}}lane")]


def node_roles(root: etree._Element) -> dict[str, str | None]:
    """The role of each flow node in a lane, by the node's id.

    Read as SpiffWorkflow reads lane names (every ``flowNodeRef`` in document order, so a node in a
    nested lane gets its innermost lane's), with the lane's role in place of its name.
    """
    roles: dict[str, str | None] = {}
    for ref in root.iter(f"{{{BPMN_NS}}}flowNodeRef"):
        if ref.text is not None:
            roles[ref.text] = lane_of(ref.getparent()).role
    return roles


def check_lanes(tree: etree._ElementTree, file: str) -> None:
    """Refuse a lane with more than one role, an empty role, or a role (declared or its name) too long to store."""
    for element in tree.getroot().iter(f"{{{BPMN_NS}}}lane"):
        roles = declared_roles(element)
        lane = lane_of(element)
        if len(roles) > 1:
            problem = f"a lane declares one role, not {len(roles)} ({', '.join(roles)})"
        elif lane.declared and not (lane.role or "").strip():
            problem = "a lane's role property needs a value: the role whose members complete its tasks"
        elif lane.declared and lane.role != (lane.role or "").strip():
            problem = f"a lane's role is a role id, without spaces around it: {lane.role!r}"
        elif lane.role is not None and len(lane.role) > MAX_ROLE_LENGTH:
            problem = (f"a lane's role is at most MAX_ROLE_LENGTH ({MAX_ROLE_LENGTH}) characters"
                       + ("" if lane.declared else "; a lane without a role property stands for its name,"
                          " so declare its role with one"))
        else:
            continue
        limit = {"limit": "MAX_ROLE_LENGTH"} if "MAX_ROLE_LENGTH" in problem else {}
        raise DefinitionError(problem, file=file, element_id=element.get("id"), line=element.sourceline, **limit)


class RoleLaneParser(SpiffBpmnParser):
    """SpiffWorkflow's parser, giving each task spec its lane's role where it would put the lane's name."""

    def get_document_lanes(self, root: etree._Element) -> dict[str, str | None]:
        return node_roles(root)
