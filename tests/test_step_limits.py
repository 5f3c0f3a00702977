"""How much one step may run: a loop or nested multi-instance activities fail their instance, through the API.

Each script has a budget of its own; these limits bound the tasks around them (``MAX_STEP_TASKS``, and
``MAX_TASK_DEPTH`` — SpiffWorkflow stops seeing tasks deeper than 1,000, and a loop that got there stalled
with no error). The instance waits in status ``error``, the task it stopped before shown as ERROR.
"""

from __future__ import annotations

from engine.bpmn import limits
from engine.kernel.models import Instance
from engine.kernel.replay import replay
from engine.bootstrap import Engine
from tests import bpmn_samples as b
from tests.fixtures import bearer
from tests.helpers import Community


def deploy(client, community: Community, key: str, source: bytes) -> None:
    response = client.post("/api/definitions", json={"filename": f"{key}.bpmn", "source": source.decode()},
                           headers=bearer(community.tokens["admin"]))
    assert response.status_code == 201, response.json


def start(client, community: Community, key: str, variables: dict | None = None) -> dict:
    response = client.post("/api/instances", json={"definition_key": key, "variables": variables or {}},
                           headers=bearer(community.tokens["chair"]))
    assert response.status_code == 201, response.json
    return response.json


def loop(key: str) -> bytes:
    """start → rounds = 0 → (one more round while rounds < limit) → user task ``review`` → end."""
    flows = [
        b.flow("f1", "start", "init"), b.flow("f2", "init", "again"), b.flow("f3", "again", "one_round"),
        b.flow("f4", "one_round", "enough"), b.flow("f5", "enough", "again", "rounds < limit"),
        b.flow("f6", "enough", "review"), b.flow("f7", "review", "end"),
    ]
    nodes = [
        '<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>',
        '<bpmn:scriptTask id="init"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>'
        "<bpmn:script>rounds = 0</bpmn:script></bpmn:scriptTask>",
        '<bpmn:exclusiveGateway id="again"><bpmn:incoming>f2</bpmn:incoming><bpmn:incoming>f5</bpmn:incoming>'
        "<bpmn:outgoing>f3</bpmn:outgoing></bpmn:exclusiveGateway>",
        '<bpmn:scriptTask id="one_round"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>'
        "<bpmn:script>rounds = rounds + 1</bpmn:script></bpmn:scriptTask>",
        '<bpmn:exclusiveGateway id="enough" default="f6"><bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>'
        "<bpmn:outgoing>f6</bpmn:outgoing></bpmn:exclusiveGateway>",
        '<bpmn:userTask id="review"><bpmn:incoming>f6</bpmn:incoming><bpmn:outgoing>f7</bpmn:outgoing></bpmn:userTask>',
        '<bpmn:endEvent id="end"><bpmn:incoming>f7</bpmn:incoming></bpmn:endEvent>',
    ]
    return b.definitions(f'<bpmn:process id="{key}" isExecutable="true">' + "".join(nodes + flows) + "</bpmn:process>")


def nested_multi_instance(key: str) -> bytes:
    """A multi-instance subprocess (cardinality ``outer``) around a multi-instance script task (``inner``)."""
    return b.definitions(f"""<bpmn:process id="{key}" isExecutable="true">
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:subProcess id="each_building"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>outer</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>
<bpmn:startEvent id="inner_start"><bpmn:outgoing>i1</bpmn:outgoing></bpmn:startEvent>
<bpmn:scriptTask id="each_flat"><bpmn:incoming>i1</bpmn:incoming><bpmn:outgoing>i2</bpmn:outgoing>
<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>inner</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>
<bpmn:script>visited = True</bpmn:script></bpmn:scriptTask>
<bpmn:endEvent id="inner_end"><bpmn:incoming>i2</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="i1" sourceRef="inner_start" targetRef="each_flat" />
<bpmn:sequenceFlow id="i2" sourceRef="each_flat" targetRef="inner_end" />
</bpmn:subProcess>
<bpmn:userTask id="after"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
<bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="each_building" />
<bpmn:sequenceFlow id="f2" sourceRef="each_building" targetRef="after" />
<bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end" />
</bpmn:process>""")


def replays(engine: Engine, instance_id: str) -> bool:
    with engine.read() as session:
        return replay(session, session.get(Instance, instance_id)).ok


def test_a_short_loop_runs_to_its_end(client, community: Community) -> None:
    deploy(client, community, "rounds", loop("rounds"))
    instance = start(client, community, "rounds", {"limit": 50})
    assert instance["status"] == "running"
    assert [t["element_id"] for t in instance["open_tasks"]] == ["review"]
    assert instance["data"]["rounds"] == 50


def test_a_loop_that_does_not_end_fails_its_instance_instead_of_stalling(
    client, deployed: Engine, community: Community
) -> None:
    deploy(client, community, "rounds", loop("rounds"))
    instance = start(client, community, "rounds", {"limit": 10**9})
    assert instance["status"] == "error"
    assert f"MAX_TASK_DEPTH ({limits.MAX_TASK_DEPTH})" in instance["error"]["message"]
    (task,) = instance["open_tasks"]
    assert task["state"] == "ERROR" and task["element_id"] in {"again", "one_round", "enough"}
    assert "continueAsNew" in task["error"]
    assert replays(deployed, instance["id"])


def test_nested_multi_instance_activities_are_bounded_by_the_tasks_one_step_may_run(
    client, deployed: Engine, community: Community
) -> None:
    deploy(client, community, "buildings", nested_multi_instance("buildings"))
    small = start(client, community, "buildings", {"outer": 10, "inner": 10})
    assert small["status"] == "running"
    assert [t["element_id"] for t in small["open_tasks"]] == ["after"]

    large = start(client, community, "buildings", {"outer": 100, "inner": 100})  # each within MAX_MULTI_INSTANCES
    assert large["status"] == "error"
    assert f"MAX_STEP_TASKS ({limits.MAX_STEP_TASKS})" in large["error"]["message"]
    (task,) = large["open_tasks"]
    assert (task["element_id"], task["state"]) == ("each_flat", "ERROR")
    assert replays(deployed, large["id"])


def test_a_step_that_leaves_nothing_to_do_is_an_incident_not_a_silent_running(
    client, community: Community, monkeypatch
) -> None:
    """The backstop behind the bounds: with MAX_TASK_DEPTH lifted past SpiffWorkflow's horizon (about
    1,000 tasks deep, where it stops seeing tasks), the endless loop leaves no ready task, no awaited
    event and no end — the instance fails saying so, instead of staying ``running`` with nothing to do."""
    monkeypatch.setattr("engine.bpmn.workflows.MAX_TASK_DEPTH", 10_000)
    monkeypatch.setattr("engine.bpmn.workflows.MAX_STEP_TASKS", 100_000)
    deploy(client, community, "stalling", loop("stalling"))
    instance = start(client, community, "stalling", {"limit": 10**6})
    assert instance["status"] == "error"
    assert "the process stopped with nothing left to do" in instance["error"]["message"]
