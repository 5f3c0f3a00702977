"""Delivering a BPMN message to a waiting instance (SpiffWorkflow leaves routing to us)."""

from __future__ import annotations

from engine.kernel.commands import DeployDefinition
from engine.kernel.models import Instance
from engine.kernel.replay import replay
from engine.bootstrap import Engine
from tests.fixtures import bearer
from tests.helpers import Community

AWAIT_APPROVAL = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://yishi.org/bpmn">
  <bpmn:message id="m_approval" name="approval" />
  <bpmn:process id="await_approval" name="Await approval" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="committee">
      <bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>wait</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>act</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait" name="Approval received">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:messageEventDefinition id="med" messageRef="m_approval">
        <bpmn:extensionElements><spiffworkflow:messageVariable>approval</spiffworkflow:messageVariable></bpmn:extensionElements>
      </bpmn:messageEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:userTask id="act" name="Act on the approval"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="e"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="wait" />
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="act" />
    <bpmn:sequenceFlow id="f3" sourceRef="act" targetRef="e" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_message_reaches_the_waiting_event_with_its_payload(deployed: Engine, community: Community, client) -> None:
    deployed.execute(DeployDefinition("await_approval.bpmn", AWAIT_APPROVAL))
    chair = bearer(community.tokens["chair"])
    instance = client.post("/api/instances", json={"definition_key": "await_approval"}, headers=chair).json
    assert instance["open_tasks"] == []

    wrong = client.post(f"/api/instances/{instance['id']}/messages", json={"message": "rejection"}, headers=chair)
    assert wrong.status_code == 409 and "rejection" in wrong.json["error"]["message"]
    resident = client.post(f"/api/instances/{instance['id']}/messages", json={"message": "approval"},
                           headers=bearer(community.tokens["alice"]))
    assert resident.status_code == 403

    delivered = client.post(f"/api/instances/{instance['id']}/messages",
                            json={"message": "approval", "payload": {"by": "street office"}}, headers=chair)
    assert delivered.status_code == 200
    assert [t["element_id"] for t in delivered.json["open_tasks"]] == ["act"]
    assert delivered.json["data"]["approval"] == {"by": "street office"}
    with deployed.read() as session:
        assert replay(session, session.get(Instance, instance["id"])).ok
