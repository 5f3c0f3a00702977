"""Values computed when an element is armed — a timer's value, a multi-instance count or collection — fail
only their own instance, through the HTTP API.

A bad value makes no 500 and leaves nothing half-done: the instance waits in status ``error`` with the
element's task visible as ERROR (for a timer too, which SpiffWorkflow arms before any task runs), the
other commands are refused, and an admin's retry — with corrected data — arms it again. Replaying the
history rebuilds the same states. (Literal values are refused at deployment: tests/test_definition_limits.py.)
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine.bpmn import limits
from engine.kernel.models import Instance
from engine.kernel.replay import replay
from engine.bootstrap import Engine
from tests import bpmn_samples as b
from tests.fixtures import bearer
from tests.helpers import Community

UTC = timezone.utc


def deploy(client, community: Community, key: str, source: bytes) -> None:
    response = client.post("/api/definitions", json={"filename": f"{key}.bpmn", "source": source.decode()},
                           headers=bearer(community.tokens["admin"]))
    assert response.status_code == 201, response.json


def start(client, community: Community, key: str, variables: dict):
    return client.post("/api/instances", json={"definition_key": key, "variables": variables},
                       headers=bearer(community.tokens["chair"]))


def retry(client, community: Community, instance_id: str, data: dict | None = None):
    return client.post(f"/api/instances/{instance_id}/retry", json={"data": data} if data else {},
                       headers=bearer(community.tokens["admin"]))


def failed_task(instance: dict) -> dict:
    (task,) = [t for t in instance["open_tasks"] if t["state"] == "ERROR"]
    return task


def replays(engine: Engine, instance_id: str) -> bool:
    with engine.read() as session:
        return replay(session, session.get(Instance, instance_id)).ok


def multi_instance(key: str, characteristics: str, sequential: bool = False) -> bytes:
    """start → user task ``each`` run once per instance → user task ``after`` → end."""
    return b.linear(key, b.Node("each", (
        f'<bpmn:userTask id="each">{{flows}}<bpmn:multiInstanceLoopCharacteristics isSequential="{str(sequential).lower()}">'
        f"{characteristics}</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>"
    )), b.user_task("after"))


BAD_VALUES = [
    ("timeDate", "not-a-date", "not an ISO 8601 date"),
    ("timeDate", 5, "not int 5"),
    ("timeDate", "0001-01-01T00:00:00", "TIMER_YEARS"),
    ("timeDuration", "garbage", "not an ISO 8601 duration"),
    ("timeDuration", None, "not nothing (None)"),
    ("timeDuration", "P100000Y", "MAX_TIMER_DURATION"),
    ("timeCycle", "R/PT0S", "MAX_TIMER_CYCLES"),
    ("timeCycle", "R5/PT1S", "MIN_CYCLE_INTERVAL"),
    ("timeDuration", "P999999999Y", "MAX_TIMER_DURATION"),
]
GOOD_VALUES = {"timeDate": "2030-01-01T09:00", "timeDuration": "PT2H", "timeCycle": "R2/PT1H"}
BAD_IDS = [f"{kind}={value!r}" for kind, value, _ in BAD_VALUES]


# -- Timers ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "value", "says"), BAD_VALUES, ids=BAD_IDS)
def test_a_bad_timer_value_at_start_fails_the_instance_with_a_visible_task_that_a_retry_rearms(
    client, deployed: Engine, community: Community, clock, kind: str, value, says: str
) -> None:
    deploy(client, community, "timed", b.linear("timed", b.timer_event("wait", "when", kind), b.user_task("after")))
    started = start(client, community, "timed", {"when": value})
    assert started.status_code == 201
    instance = started.json
    assert instance["status"] == "error"
    assert instance["error"]["element_id"] == "wait"
    assert says in instance["error"]["message"]
    task = failed_task(instance)
    assert task["element_id"] == "wait" and says in task["error"]
    assert instance["timers"] == []

    url = f"/api/instances/{instance['id']}"
    shown = client.get(url, headers=bearer(community.tokens["admin"])).json
    assert failed_task(shown)["id"] == task["id"]

    again = retry(client, community, instance["id"])  # nothing changed: it fails the same way
    assert (again.status_code, again.json["status"]) == (200, "error")
    assert failed_task(again.json)["id"] == task["id"]

    fixed = retry(client, community, instance["id"], {"when": GOOD_VALUES[kind]})
    assert fixed.status_code == 200
    assert fixed.json["status"] == "running"
    assert fixed.json["error"] is None
    assert [t["element_id"] for t in fixed.json["open_tasks"]] == []
    (timer,) = fixed.json["timers"]
    assert timer["element_id"] == "wait"
    due = datetime.fromisoformat(timer["due_at"])
    assert due > clock.now()

    clock.set(due + timedelta(seconds=1))
    assert deployed.fire_due_timers() == 1
    after = client.get(url, headers=bearer(community.tokens["admin"])).json
    assert "after" in [t["element_id"] for t in after["open_tasks"]]
    assert replays(deployed, instance["id"])


@pytest.mark.parametrize(("kind", "value", "says"), BAD_VALUES[:3], ids=BAD_IDS[:3])
def test_a_bad_boundary_timer_value_fails_the_instance_not_the_request(
    client, deployed: Engine, community: Community, kind: str, value, says: str
) -> None:
    deploy(client, community, "bounded", b.boundary_timer("bounded", "when", kind))
    instance = start(client, community, "bounded", {"when": value}).json
    assert instance["status"] == "error"
    assert failed_task(instance)["element_id"] == "too_late"
    assert says in instance["error"]["message"]
    work = next(t for t in instance["open_tasks"] if t["element_id"] == "work")
    refused = client.post(f"/api/tasks/{work['id']}/complete", json={}, headers=bearer(community.tokens["chair"]))
    assert refused.status_code == 409  # a failed instance takes no other command
    assert replays(deployed, instance["id"])


def test_a_bad_timer_value_reached_by_completing_a_task_fails_the_instance_not_the_request(
    client, deployed: Engine, community: Community
) -> None:
    deploy(client, community, "later", b.linear(
        "later", b.user_task("decide"), b.timer_event("wait", "when", "timeDuration"), b.user_task("after")))
    instance = start(client, community, "later", {"when": "P999999999Y"}).json
    (decide,) = instance["open_tasks"]
    completed = client.post(f"/api/tasks/{decide['id']}/complete", json={}, headers=bearer(community.tokens["chair"]))
    assert completed.status_code == 200
    assert completed.json["status"] == "error"
    assert "MAX_TIMER_DURATION" in failed_task(completed.json)["error"]
    fixed = retry(client, community, instance["id"], {"when": "P1D"})
    assert fixed.json["status"] == "running"
    assert [t["element_id"] for t in fixed.json["timers"]] == ["wait"]
    assert replays(deployed, instance["id"])


def test_a_timer_expression_refused_by_the_sandbox_leaves_its_task_visible(client, community: Community) -> None:
    deploy(client, community, "nosy", b.boundary_timer("nosy", "open('/etc/hostname').read()"))
    instance = start(client, community, "nosy", {}).json
    assert instance["status"] == "error"
    task = failed_task(instance)
    assert task["element_id"] == "too_late"
    assert "'open' is not allowed" in task["error"]


def test_a_computed_cycle_within_bounds_fires_its_repetitions(client, deployed: Engine, community: Community, clock) -> None:
    deploy(client, community, "reminders", b.linear("reminders", b.timer_event("wait", "every", "timeCycle"), b.user_task("after")))
    instance = start(client, community, "reminders", {"every": "R2/PT1H"}).json
    assert instance["status"] == "running"
    (timer,) = instance["timers"]
    assert datetime.fromisoformat(timer["due_at"]) == clock.now() + timedelta(hours=1)
    for _ in range(2):
        clock.advance(timedelta(hours=1, seconds=1))
        assert deployed.fire_due_timers() == 1
    shown = client.get(f"/api/instances/{instance['id']}", headers=bearer(community.tokens["chair"])).json
    assert [t["element_id"] for t in shown["open_tasks"]] == ["after", "after"]
    assert shown["timers"] == []
    clock.advance(timedelta(hours=2))
    assert deployed.fire_due_timers() == 0


def test_a_cycle_from_a_start_date_is_armed_at_that_date(client, community: Community) -> None:
    deploy(client, community, "from_date", b.linear(
        "from_date", b.timer_event("wait", '"R3/2030-01-01T09:00/P1D"', "timeCycle"), b.user_task("after")))
    instance = start(client, community, "from_date", {}).json
    assert instance["status"] == "running"
    (timer,) = instance["timers"]
    assert datetime.fromisoformat(timer["due_at"]) == datetime(2030, 1, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


# -- Multi-instance activities ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sequential", [False, True], ids=["parallel", "sequential"])
def test_a_computed_cardinality_over_the_limit_fails_only_its_instance(
    client, deployed: Engine, community: Community, sequential: bool
) -> None:
    deploy(client, community, "count", multi_instance("count", "<bpmn:loopCardinality>n</bpmn:loopCardinality>", sequential))
    instance = start(client, community, "count", {"n": 10_000}).json
    assert instance["status"] == "error"
    task = failed_task(instance)
    assert task["element_id"] == "each"
    assert f"MAX_MULTI_INSTANCES ({limits.MAX_MULTI_INSTANCES})" in task["error"]
    assert len(instance["open_tasks"]) == 1  # no instance was created
    assert client.get("/api/health").status_code == 200

    fixed = retry(client, community, instance["id"], {"n": 3})
    assert fixed.json["status"] == "running"
    assert [t["element_id"] for t in fixed.json["open_tasks"]] == ["each"] * (1 if sequential else 3)
    assert replays(deployed, instance["id"])


def test_a_computed_cardinality_that_is_no_count_fails_its_instance(client, community: Community) -> None:
    deploy(client, community, "count", multi_instance("count", "<bpmn:loopCardinality>n</bpmn:loopCardinality>"))
    instance = start(client, community, "count", {"n": "three"}).json
    assert instance["status"] == "error"
    assert "whole number" in failed_task(instance)["error"]


INPUT = '<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef><bpmn:inputDataItem id="item" />'


@pytest.mark.parametrize("sequential", [False, True], ids=["parallel", "sequential"])
def test_a_multi_instance_without_its_input_collection_fails_cleanly_naming_it(
    client, deployed: Engine, community: Community, sequential: bool
) -> None:
    deploy(client, community, "each_item", multi_instance("each_item", INPUT, sequential))
    started = start(client, community, "each_item", {})
    assert started.status_code == 201
    instance = started.json
    assert instance["status"] == "error"
    task = failed_task(instance)
    assert task["element_id"] == "each"
    assert "input collection 'items' is not in the task data" in task["error"]

    fixed = retry(client, community, instance["id"], {"items": ["north gate", "south gate"]})
    assert fixed.json["status"] == "running"
    assert [t["element_id"] for t in fixed.json["open_tasks"]] == ["each"] * (1 if sequential else 2)
    assert replays(deployed, instance["id"])


@pytest.mark.parametrize(("items", "says"), [
    (5, "must be a list or a dict, not int"),
    ("abc", "must be a list or a dict, not str"),
    (list(range(limits.MAX_MULTI_INSTANCES + 1)), "MAX_MULTI_INSTANCES"),
], ids=["number", "text", "too long"])
def test_a_bad_input_collection_fails_its_instance(client, community: Community, items, says: str) -> None:
    deploy(client, community, "each_item", multi_instance("each_item", INPUT))
    instance = start(client, community, "each_item", {"items": items}).json
    assert instance["status"] == "error"
    assert says in failed_task(instance)["error"]


def test_an_input_collection_within_the_limit_runs(client, community: Community) -> None:
    deploy(client, community, "each_item", multi_instance("each_item", INPUT))
    instance = start(client, community, "each_item", {"items": ["a", "b", "c"]}).json
    assert instance["status"] == "running"
    assert len(instance["open_tasks"]) == 3
