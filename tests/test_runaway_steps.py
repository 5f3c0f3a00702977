"""A definition can at worst fail its own instance: while one instance's step burns its whole time
budget, every other command keeps committing — on SQLite too, where one writer at a time is the rule.

A workflow step is computed before its unit of work takes the database writer
(``engine.kernel.instances.advance``), so a runaway script (stopped from outside after
``isolation.HARD_TIME_LIMIT_SECONDS``) holds nothing the ballots need. A step that reaches a
service task runs in its transaction from that task on, and its scripts there share
``isolation.WRITER_SCRIPT_SECONDS``.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.kernel.commands import CompleteTask, DeployDefinition, StartInstance
from engine.voting.commands import CastBallot
from engine.kernel import operations
from engine.bpmn import isolation
from engine.kernel.models import Instance
from engine.voting.models import Participation, Vote
from engine.bootstrap import Engine
from tests import bpmn_samples as b
from tests.helpers import Community

C_LEVEL = "a1 = [1]*100000\na2 = [1]*100000\nb1 = [a1]*100000\nb2 = [a2]*100000\nsame = b1 == b2\ndel a1, a2, b1, b2"
SLOW = "total = 0\nfor i in range(90000):\n    total = total + len(str(i) * 20)"
"""Legitimate but slow: well inside the sandbox's step budget, about a tenth of a second of pure Python."""
VOTE = {"title": "Stairwell colour", "question": "Shall the stairwells be green?", "method": "yes_no_abstain",
        "rule": {}, "secret": True, "electorate": "residents", "deadline": "2026-03-09T18:00"}


@operations.operation("test.stamp")
def stamp(context: operations.ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"stamped": context.instance.id}


def ready(engine: Engine, instance_id: str) -> dict[str, str]:
    with engine.read() as session:
        return {t.element_id: t.id for t in session.get(Instance, instance_id).tasks if t.state == "READY"}


def test_ballots_and_opinions_commit_while_a_runaway_step_burns_its_budget(
    deployed: Engine, community: Community, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed.execute(DeployDefinition("runaway.bpmn", b.minimal("runaway", script=C_LEVEL)), community["admin"])
    vote_instance = deployed.execute(StartInstance("vote"), community["chair"]).id
    deployed.execute(CompleteTask(ready(deployed, vote_instance)["configure_vote"], {"vote": VOTE}), community["chair"])
    with deployed.read() as session:
        (vote_id,) = session.scalars(select(Vote.id).where(Vote.instance_id == vote_instance))

    burning = threading.Event()
    real = isolation.Isolation._run_in_child

    def signalling(self: isolation.Isolation, mode: Any, source: str, *args: Any) -> Any:
        if source == C_LEVEL:
            burning.set()
        return real(self, mode, source, *args)

    monkeypatch.setattr(isolation.Isolation, "_run_in_child", signalling)
    outcome: dict[str, Any] = {}
    runaway = threading.Thread(target=lambda: outcome.update(instance=deployed.execute(StartInstance("runaway"), community["chair"])))
    runaway.start()
    assert burning.wait(30), "the runaway step never reached its script"
    for name in ("alice", "bob", "carol"):
        deployed.execute(CastBallot(vote_id, "yes"), community[name])
    still_burning = runaway.is_alive()
    runaway.join(60)
    assert still_burning, "the ballots waited for the runaway step"
    with deployed.read() as session:
        assert session.scalar(select(func.count()).select_from(Participation).where(Participation.vote_id == vote_id)) == 3
        stopped = session.get(Instance, outcome["instance"].id)
        assert stopped.status == "error" and "hard time limit" in stopped.error["message"]


def test_scripts_after_a_service_task_share_the_writers_budget(deployed: Engine, community: Community,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Before its service task a step may take its time (it is computed ahead); after it, the
    scripts run in the transaction and share ``WRITER_SCRIPT_SECONDS`` (made 10 ms here, well below
    what the slow script takes)."""
    monkeypatch.setattr(isolation, "WRITER_SCRIPT_SECONDS", 0.01)
    before = b.linear("slow_then_stamp", b.script_task("slow", SLOW), b.service_task("stamp", "test.stamp", "stamp"),
                      b.user_task("review", "Review"))
    after = b.linear("stamp_then_slow", b.service_task("stamp", "test.stamp", "stamp"), b.script_task("slow", SLOW),
                     b.user_task("review", "Review"))
    for key, source in (("slow_then_stamp", before), ("stamp_then_slow", after)):
        deployed.execute(DeployDefinition(f"{key}.bpmn", source), community["admin"])
    fine = deployed.execute(StartInstance("slow_then_stamp"), community["chair"])
    assert fine.status == "running" and fine.data["stamp"] == {"stamped": fine.id}
    refused = deployed.execute(StartInstance("stamp_then_slow"), community["chair"])
    assert refused.status == "error"
    assert "while the step holds the database writer" in refused.error["message"]
