"""Continue-as-new: a loop back to an element marked ``continueAsNew`` starts a fresh run, so state stays flat."""

from __future__ import annotations

import json

import pytest

from engine.kernel.commands import CompleteTask, DeployDefinition, StartInstance
from engine.kernel.errors import DefinitionError
from engine.kernel.models import Instance
from engine.kernel.replay import replay
from engine.bootstrap import Engine
from tests import bpmn_samples as b
from tests.helpers import Community

MARK = ('<bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="continueAsNew" value="{value}" /></spiffworkflow:properties></bpmn:extensionElements>')


def loop(key: str, *, mark: str | None = "true", side_branch: bool = False, mark_on: str = "next") -> bytes:
    """start → next (merge) → [fork →] work → count → again? ``rounds < limit``: back to next; else end.

    ``side`` (with ``side_branch``) is a user task in parallel with the loop, never completed.
    """
    def marked(id: str) -> str:
        return MARK.format(value=mark) if mark is not None and mark_on == id else ""

    work_in = "to_fork_work" if side_branch else "to_work"
    nodes = [
        b.Node("start", '<bpmn:startEvent id="start"><bpmn:outgoing>to_next</bpmn:outgoing></bpmn:startEvent>'),
        b.Node("next", f'<bpmn:exclusiveGateway id="next">{marked("next")}<bpmn:incoming>to_next</bpmn:incoming>'
                       '<bpmn:incoming>loop</bpmn:incoming><bpmn:outgoing>to_work</bpmn:outgoing></bpmn:exclusiveGateway>'),
        b.Node("work", f'<bpmn:userTask id="work">{marked("work")}<bpmn:incoming>{work_in}</bpmn:incoming>'
                       '<bpmn:outgoing>to_count</bpmn:outgoing></bpmn:userTask>'),
        b.Node("count", '<bpmn:scriptTask id="count" scriptFormat="python"><bpmn:incoming>to_count</bpmn:incoming>'
                        '<bpmn:outgoing>to_again</bpmn:outgoing><bpmn:script>rounds = rounds + 1</bpmn:script></bpmn:scriptTask>'),
        b.Node("again", '<bpmn:exclusiveGateway id="again" default="to_end"><bpmn:incoming>to_again</bpmn:incoming>'
                        '<bpmn:outgoing>loop</bpmn:outgoing><bpmn:outgoing>to_end</bpmn:outgoing></bpmn:exclusiveGateway>'),
        b.Node("end", '<bpmn:endEvent id="end"><bpmn:incoming>to_end</bpmn:incoming></bpmn:endEvent>'),
    ]
    flows = [b.flow("to_next", "start", "next"), b.flow("loop", "again", "next", "rounds < limit"),
             b.flow("to_count", "work", "count"), b.flow("to_again", "count", "again"),
             b.flow("to_end", "again", "end")]
    if side_branch:
        nodes += [
            b.Node("fork", '<bpmn:parallelGateway id="fork"><bpmn:incoming>to_work</bpmn:incoming>'
                           '<bpmn:outgoing>to_fork_work</bpmn:outgoing><bpmn:outgoing>to_side</bpmn:outgoing></bpmn:parallelGateway>'),
            b.Node("side", '<bpmn:userTask id="side"><bpmn:incoming>to_side</bpmn:incoming><bpmn:outgoing>side_done</bpmn:outgoing></bpmn:userTask>'),
            b.Node("side_end", '<bpmn:endEvent id="side_end"><bpmn:incoming>side_done</bpmn:incoming></bpmn:endEvent>'),
        ]
        flows += [b.flow("to_work", "next", "fork"), b.flow("to_fork_work", "fork", "work"), b.flow("to_side", "fork", "side"),
                  b.flow("side_done", "side", "side_end")]
    else:
        flows.append(b.flow("to_work", "next", "work"))
    return b.definitions(b._process(key, None, True, nodes, [n.xml for n in nodes] + flows))


def ready(engine: Engine, instance_id: str) -> dict[str, str]:
    with engine.read() as session:
        return {t.element_id: t.id for t in session.get(Instance, instance_id).tasks if t.state == "READY"}


def go_round(engine: Engine, community: Community, instance_id: str, times: int) -> list[tuple[int, int]]:
    """Complete ``work`` ``times`` times; (state size, task count) after each."""
    sizes = []
    for _ in range(times):
        engine.execute(CompleteTask(ready(engine, instance_id)["work"]), community["chair"])
        with engine.read() as session:
            state = session.get(Instance, instance_id).state
        sizes.append((len(state), len(json.loads(state)["tasks"])))
    return sizes


def test_a_loop_through_a_continue_as_new_element_keeps_the_state_flat(deployed: Engine, community: Community) -> None:
    deployed.execute(DeployDefinition("looping.bpmn", loop("looping")))
    deployed.execute(DeployDefinition("growing.bpmn", loop("growing", mark=None)))
    looping = deployed.execute(StartInstance("looping", {"rounds": 0, "limit": 13}), community["chair"]).id
    growing = deployed.execute(StartInstance("growing", {"rounds": 0, "limit": 13}), community["chair"]).id

    flat, grown = go_round(deployed, community, looping, 12), go_round(deployed, community, growing, 12)

    assert len({tasks for _, tasks in flat}) == 1
    assert max(size for size, _ in flat) - min(size for size, _ in flat) < 0.01 * flat[0][0]
    assert grown[-1][1] > grown[0][1] + 30  # without it, every round adds tasks to the tree
    with deployed.read() as session:
        instance = session.get(Instance, looping)
        assert instance.data == {"rounds": 12, "limit": 13}  # the data the loop carried
        assert replay(session, instance).ok
    deployed.execute(CompleteTask(ready(deployed, looping)["work"]), community["chair"])
    with deployed.read() as session:
        assert session.get(Instance, looping).status == "completed"


def test_continuing_as_new_with_another_branch_still_open_is_a_failure_not_a_loss(deployed: Engine, community: Community) -> None:
    deployed.execute(DeployDefinition("forked.bpmn", loop("forked", side_branch=True)))
    instance_id = deployed.execute(StartInstance("forked", {"rounds": 0, "limit": 2}), community["chair"]).id
    assert set(ready(deployed, instance_id)) == {"work", "side"}
    deployed.execute(CompleteTask(ready(deployed, instance_id)["work"]), community["chair"])
    with deployed.read() as session:
        instance = session.get(Instance, instance_id)
        assert instance.status == "error"
        assert instance.error["element_id"] == "next"
        assert "other paths are still active (side)" in instance.error["message"]
        assert replay(session, instance).ok


@pytest.mark.parametrize("mark, mark_on, message", [
    ("yes", "next", 'must be "true"'),
    ("true", "work", "needs an automatic element"),
])
def test_a_misplaced_mark_is_refused_at_deployment(engine: Engine, mark: str, mark_on: str, message: str) -> None:
    with pytest.raises(DefinitionError, match=message) as refused:
        engine.execute(DeployDefinition("marked.bpmn", loop("marked", mark=mark, mark_on=mark_on)))
    assert refused.value.details["element_id"] == mark_on
