"""The history shows residents their own opinions and hides the others', as the opinion list does."""

from __future__ import annotations

from engine.consultation.commands import SubmitOpinion
from engine.kernel.commands import CompleteTask, StartInstance
from engine.kernel.models import Instance
from engine.bootstrap import Engine
from tests.fixtures import bearer
from tests.helpers import Community


def test_residents_see_only_their_own_opinions_in_the_history(deployed: Engine, community: Community, client) -> None:
    instance_id = deployed.execute(StartInstance("consultation"), community["chair"]).id
    with deployed.read() as session:
        (task_id,) = [task.id for task in session.get(Instance, instance_id).tasks]
    deployed.execute(CompleteTask(task_id, {"title": "T", "description": "D", "affected": "A",
                                              "opinion_deadline": "2026-03-09T18:00"}), community["chair"])
    deployed.execute(SubmitOpinion(instance_id, "alice's private view"), community["alice"])
    deployed.execute(SubmitOpinion(instance_id, "bob's private view"), community["bob"])

    def texts(who: str) -> dict[int, object]:
        items = client.get(f"/api/instances/{instance_id}/events", headers=bearer(community.tokens[who])).json["items"]
        return {e["seq"]: (e["input"].get("text"), e["redacted"]) for e in items if e["type"] == "opinion_submitted"}

    assert texts("alice") == {3: ("alice's private view", False), 4: (None, True)}
    assert texts("bob") == {3: (None, True), 4: ("bob's private view", False)}
    assert texts("clerk") == {3: ("alice's private view", False), 4: ("bob's private view", False)}
    assert texts("auditor") == texts("clerk")

