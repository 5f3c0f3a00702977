"""Service tasks run registered operations inside the command; replay feeds back their recorded results."""

from __future__ import annotations

from typing import Any

import pytest

from engine.kernel.commands import DeployDefinition, StartInstance
from engine.kernel import operations
from engine.kernel.errors import DefinitionError, InvalidInput
from engine.kernel.models import Event, Instance
from engine.kernel.replay import replay
from engine.bootstrap import Engine
from tests import bpmn_samples as b
from tests.helpers import Community

CALLS: list[dict[str, Any]] = []


@operations.operation("test.double")
def double(context: operations.ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    CALLS.append(params)
    if params["n"] < 0:
        raise InvalidInput("n must not be negative", errors=[{"field": "n", "message": "negative"}])
    return {"doubled": params["n"] * 2, "instance": context.instance.id}


def doubler(key: str = "doubler") -> bytes:
    return b.linear(key, b.service_task("double_it", "test.double", "answer", n="n"), b.user_task("after"))


def ready(engine: Engine, instance_id: str) -> dict[str, str]:
    with engine.read() as session:
        return {t.element_id: t.id for t in session.get(Instance, instance_id).tasks if t.state == "READY"}


def test_a_service_result_is_recorded_and_replayed_without_calling_again(deployed: Engine, community: Community) -> None:
    deployed.execute(DeployDefinition("doubler.bpmn", doubler()))
    CALLS.clear()
    instance_id = deployed.execute(StartInstance("doubler", {"n": 21}), community["chair"]).id
    assert CALLS == [{"n": 21}]
    assert list(ready(deployed, instance_id)) == ["after"]
    with deployed.read() as session:
        instance = session.get(Instance, instance_id)
        assert instance.data["answer"] == {"doubled": 42, "instance": instance_id}
        event = session.query(Event).filter_by(instance_id=instance_id, seq=1).one()
        assert event.services == [{"operation": "test.double", "params": {"n": 21},
                                   "result": {"doubled": 42, "instance": instance_id}}]
        assert replay(session, instance).ok
        assert CALLS == [{"n": 21}]  # replay used the recorded result

        session.execute(Event.__table__.update().where(Event.id == event.id).values(
            services=[{"operation": "test.double", "params": {"n": 21}, "result": {"doubled": 43, "instance": instance_id}}]))
        session.expire_all()
        report = replay(session, session.get(Instance, instance_id))
        assert [m.seq for m in report.mismatches] == [1]


def test_a_domain_refusal_from_an_operation_refuses_the_command(deployed: Engine, community: Community) -> None:
    deployed.execute(DeployDefinition("doubler.bpmn", doubler()))
    with pytest.raises(InvalidInput, match="negative"):
        deployed.execute(StartInstance("doubler", {"n": -1}), community["chair"])
    with deployed.read() as session:
        assert session.query(Instance).count() == 0


def test_an_unknown_operation_is_refused_at_deployment(deployed: Engine) -> None:
    source = b.linear("mystery", b.service_task("call", "test.nowhere", "out"))
    with pytest.raises(DefinitionError, match="unknown service operation") as refused:
        deployed.execute(DeployDefinition("mystery.bpmn", source))
    assert refused.value.details["element_id"] == "call"
