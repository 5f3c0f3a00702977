"""A small corpus of definitions on the constructs SpiffWorkflow's own test corpus exercises, deployed and
started through the HTTP API: nothing gives a server error, and each ends as it should.

The files in tests/corpus/ are written for Yishi (SpiffWorkflow's are not copied here): multi-instance
activities, sequential and parallel, by cardinality or input collection, with and without them; timer
start, boundary and intermediate events with dates, durations and cycles, literal or computed; nested
subprocesses; a call activity; an event-based gateway; a standard loop and a gateway loop. Files are
deployed in name order (the called process's name sorts first).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.bootstrap import Engine
from tests.fixtures import bearer
from tests.helpers import Community

CORPUS = Path(__file__).parent / "corpus"

EXPECTED: dict[str, tuple[str, ...]] = {
    # file: ("refused", what the refusal says) or (instance status, element ids of its open tasks and timers…)
    "a_callee": ("running", "confirm"),
    "call_activity_with_timer": ("running", "confirm", "timer:delegate_late"),
    "event_based_gateway": ("running", "timer:first_of"),
    "gateway_loop": ("running", "review"),
    "mi_parallel_empty_input": ("completed",),
    "mi_parallel_input_output": ("running", "look"),
    "mi_parallel_without_input": ("error", "error:each_site"),
    "mi_sequential_cardinality": ("running", "review"),
    "mi_sequential_cardinality_from_data": ("error", "error:review"),
    "mi_without_cardinality_or_input": ("refused", "must specify a cardinality or a loop input"),
    "nested_subprocesses": ("running", "inner_work", "timer:outer_too_long"),
    "standard_loop": ("running", "done"),
    "timer_boundary_cycle": ("running", "work", "timer:remind"),
    "timer_intermediate_date": ("running", "timer:new_year"),
    "timer_missing_variable": ("error", "error:wait"),
    "timer_start_date_from_data": ("error", "error:at_opening"),
    "timer_start_duration": ("running", "timer:in_an_hour"),
}


def test_the_corpus_is_what_the_expectations_list() -> None:
    assert sorted(path.stem for path in CORPUS.glob("*.bpmn")) == sorted(EXPECTED)


def test_deploying_and_starting_the_corpus_never_gives_a_server_error(client, deployed: Engine, community: Community) -> None:
    admin, chair = bearer(community.tokens["admin"]), bearer(community.tokens["chair"])
    outcomes: dict[str, tuple[str, ...]] = {}
    for path in sorted(CORPUS.glob("*.bpmn")):
        deployed_ = client.post("/api/definitions", json={"filename": path.name, "source": path.read_text()}, headers=admin)
        assert deployed_.status_code < 500, (path.name, deployed_.json)
        if deployed_.status_code != 201:
            assert deployed_.status_code == 422, (path.name, deployed_.json)
            message, expected = deployed_.json["error"]["message"], EXPECTED[path.stem][-1]
            outcomes[path.stem] = ("refused", expected if expected in message else message)
            continue
        key = deployed_.json["definition"]["key"]
        started = client.post("/api/instances", json={"definition_key": key}, headers=chair)
        assert started.status_code < 500, (path.name, started.json)
        assert started.status_code == 201, (path.name, started.json)
        instance = started.json
        tasks = {t["element_id"] if t["state"] == "READY" else f"error:{t['element_id']}" for t in instance["open_tasks"]}
        timers = {f"timer:{t['element_id']}" for t in instance["timers"]}
        outcomes[path.stem] = (instance["status"], *sorted(tasks | timers))
    assert outcomes == {name: (status, *sorted(rest)) for name, (status, *rest) in EXPECTED.items()}


@pytest.mark.parametrize("name", ["mi_parallel_without_input", "timer_missing_variable"])
def test_a_corpus_instance_that_fails_names_its_element_and_can_be_retried(
    client, community: Community, name: str
) -> None:
    admin, chair = bearer(community.tokens["admin"]), bearer(community.tokens["chair"])
    path = CORPUS / f"{name}.bpmn"
    assert client.post("/api/definitions", json={"filename": path.name, "source": path.read_text()}, headers=admin).status_code == 201
    instance = client.post("/api/instances", json={"definition_key": name}, headers=chair).json
    assert instance["status"] == "error"
    element = instance["error"]["element_id"]
    assert element in instance["error"]["message"]
    data = {"sites": ["north gate"]} if name == "mi_parallel_without_input" else {"deadline": "2030-01-01T00:00"}
    retried = client.post(f"/api/instances/{instance['id']}/retry", json={"data": data}, headers=admin)
    assert retried.status_code == 200
    assert retried.json["status"] == "running"
