"""A lane's name is for people, its ``role`` property names the role whose members complete its tasks (issue 16).

At deployment each task's lane becomes its lane's declared role (``engine.bpmn.lanes``), so the task index, the
permission checks, the task lists and the agenda see role ids whatever the lanes are called; a lane without the
property stands for its name, as every lane did before, so older definitions deploy to the very same spec.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.bootstrap import Engine
from engine.bpmn import parsing
from engine.bpmn.lanes import lanes as lanes_of
from engine.bpmn.workflows import canonical_json, serialize_spec
from engine.identity.members import ROLES
from engine.kernel import queries
from engine.kernel.agenda import agenda
from engine.kernel.commands import CompleteTask, DeployDefinition, StartInstance
from engine.kernel.errors import DefinitionError, PermissionDenied
from engine.kernel.models import Instance
from tests import bpmn_samples as b
from tests.helpers import Community

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted((ROOT / "processes").glob("*.bpmn"))
COMMITTEE_LANE = b'<bpmn:lane id="named_lane_committee" name="committee">'


def role_properties(*roles: str) -> str:
    if not roles:
        return ""
    return ("<bpmn:extensionElements><spiffworkflow:properties>"
            + "".join(f'<spiffworkflow:property name="role" value="{role}" />' for role in roles)
            + "</spiffworkflow:properties></bpmn:extensionElements>")


def named(lane_name: str, *roles: str) -> bytes:
    """A process with one user task ``review`` in a lane called ``lane_name`` declaring ``roles`` (none: no property)."""
    source = b.linear("named", b.user_task("review", "Review"))
    assert COMMITTEE_LANE in source
    lane = f'<bpmn:lane id="named_lane_committee" name="{lane_name}">' + role_properties(*roles)
    return source.replace(COMMITTEE_LANE, lane.encode())


def review_task(engine: Engine, instance_id: str):
    with engine.read() as session:
        (task,) = [t for t in session.get(Instance, instance_id).tasks if t.state == "READY"]
        session.expunge(task)
        return task


def spec_of(engine: Engine, instance_id: str) -> dict:
    with engine.read() as session:
        return json.loads(session.get(Instance, instance_id).definition.spec)


def refusal(engine: Engine, source: bytes) -> DefinitionError:
    with pytest.raises(DefinitionError) as raised:
        engine.execute(DeployDefinition("named.bpmn", source))
    return raised.value


# --- a declared role is what the task index and the permission checks use -------------------------------------------


def test_a_lanes_declared_role_is_the_tasks_lane_for_the_index_the_checks_and_the_lists(
        engine: Engine, community: Community) -> None:
    engine.execute(DeployDefinition("named.bpmn", named("居委会 Committee", "committee")))
    instance_id = engine.execute(StartInstance("named"), community["chair"]).id

    task = review_task(engine, instance_id)
    assert task.lane == "committee"
    assert spec_of(engine, instance_id)["spec"]["task_specs"]["review"]["lane"] == "committee"
    with engine.read() as session:
        assert [t.id for t in queries.my_tasks(session, community["clerk"], 1, 100).items] == [task.id]
        assert queries.my_tasks(session, community["alice"], 1, 100).items == []
        assert [i.refs["task_id"] for i in agenda(session, community["clerk"], engine.clock.now())
                if i.kind == "complete_task"] == [task.id]
    with pytest.raises(PermissionDenied) as refused:
        engine.execute(CompleteTask(task.id), community["alice"])
    assert refused.value.details["required"] == ["committee"]
    assert review_task(engine, instance_id).id == task.id, "the resident's attempt changed nothing"

    engine.execute(CompleteTask(task.id), community["chair"])
    with engine.read() as session:
        assert session.get(Instance, instance_id).status == "completed"


def test_a_lane_named_like_a_role_but_declaring_another_is_the_declared_roles(engine: Engine, community: Community) -> None:
    engine.execute(DeployDefinition("named.bpmn", named("committee", "auditor")))
    task = review_task(engine, engine.execute(StartInstance("named"), community["chair"]).id)
    assert task.lane == "auditor"
    with pytest.raises(PermissionDenied):
        engine.execute(CompleteTask(task.id), community["chair"])
    engine.execute(CompleteTask(task.id), community["auditor"])


# --- a lane without the property stands for its name, as before ----------------------------------------------------


def test_a_lane_without_a_role_falls_back_to_its_name(engine: Engine, community: Community) -> None:
    engine.execute(DeployDefinition("named.bpmn", named("committee")))
    task = review_task(engine, engine.execute(StartInstance("named"), community["chair"]).id)
    assert task.lane == "committee"
    with pytest.raises(PermissionDenied):
        engine.execute(CompleteTask(task.id), community["alice"])
    engine.execute(CompleteTask(task.id), community["clerk"])


def test_a_lane_without_a_role_named_like_no_role_keeps_that_name_and_nobody_may_complete_it(
        engine: Engine, community: Community) -> None:
    engine.execute(DeployDefinition("named.bpmn", named("Volunteers")))
    task = review_task(engine, engine.execute(StartInstance("named"), community["chair"]).id)
    assert task.lane == "Volunteers"
    with pytest.raises(PermissionDenied):
        engine.execute(CompleteTask(task.id), community["chair"])


@pytest.mark.parametrize("source", [
    named("committee"), named("Volunteers"),
    b.linear("mixed", b.user_task("a", lane="committee"), b.user_task("c", lane="auditor")),
], ids=["role-named", "other-name", "two-lanes"])
def test_a_definition_without_role_properties_parses_to_the_spec_spiffworkflow_gives(source: bytes) -> None:
    """So a community's older file deploys to the very spec it always had, and stored specs mean what they meant."""
    tree, _ = parsing.called_elements("old.bpmn", source)
    ours = parsing.parse_process("old.bpmn", tree, {})
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(tree, "old.bpmn")
    key = ours.key
    theirs = serialize_spec(parser.get_spec(key), parser.get_subprocess_specs(key))
    assert canonical_json(serialize_spec(ours.spec, ours.subprocess_specs)) == canonical_json(theirs)


# --- what a lane may declare ------------------------------------------------------------------------------------------


def test_an_unknown_declared_role_is_refused_naming_the_lane(engine: Engine) -> None:
    error = refusal(engine, named("居委会 Committee", "comittee"))
    assert error.details["element_id"] == "named_lane_committee" and error.details["line"]
    assert "'comittee'" in str(error) and "committee, resident" in str(error)


@pytest.mark.parametrize("roles, words", [
    (("committee", "resident"), "one role, not 2"),
    (("",), "needs a value"),
    ((" committee",), "without spaces"),
    (("x" * 101,), "MAX_ROLE_LENGTH"),
], ids=["two", "empty", "spaces", "long"])
def test_a_lane_declares_one_plain_role(engine: Engine, roles: tuple[str, ...], words: str) -> None:
    error = refusal(engine, named("居委会 Committee", *roles))
    assert words in str(error) and error.details["element_id"] == "named_lane_committee"


def test_a_long_lane_name_without_a_role_is_refused_with_the_way_out(engine: Engine) -> None:
    error = refusal(engine, named("A" * 101))
    assert error.details["limit"] == "MAX_ROLE_LENGTH" and "declare its role" in str(error)


# --- the bundled diagrams ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_every_bundled_lane_declares_a_known_role_and_has_a_name_for_people(path: Path) -> None:
    found = lanes_of(etree.parse(str(path)).getroot())
    assert found
    for lane in found:
        assert lane.declared and lane.role in ROLES, lane
        assert lane.name and lane.name not in ROLES, f"{lane.id} is still named by its role id"
        assert any("\u4e00" <= c <= "\u9fff" for c in lane.name) and any(c.isascii() and c.isalpha() for c in lane.name), (
            f"{lane.name!r}: a lane is named in Chinese and English")


def test_the_bundled_processes_task_index_sees_role_ids(deployed: Engine) -> None:
    with deployed.read() as session:
        from engine.kernel.models import Definition
        specs = [json.loads(d.spec) for d in session.query(Definition).filter(Definition.kind == "bpmn")]
    lanes = {ts["lane"] for s in specs for spec in (s["spec"], *s["subprocess_specs"].values())
             for ts in spec["task_specs"].values() if ts.get("lane")}
    assert lanes == {"committee", "provider", "street_office"}
