"""Deploy-time limits, through the HTTP API: what a definition may not say, and how the refusal names it.

Each refusal is a 422 ``invalid_definition`` whose message and ``details['limit']`` name the limit broken
(``engine.bpmn.limits``), with the file, the element and the line. Timer values written as literals are
checked here; computed ones when they are armed (tests/test_arming.py).
"""

from __future__ import annotations

import pytest

from engine.bpmn import limits
from tests import bpmn_samples as b
from tests.fixtures import bearer
from tests.helpers import Community


def deploy(client, community: Community, key: str, source: bytes):
    return client.post("/api/definitions", json={"filename": f"{key}.bpmn", "source": source.decode()},
                       headers=bearer(community.tokens["admin"]))


def line_of(source: bytes, text: str) -> int:
    return next(number for number, line in enumerate(source.decode().splitlines(), 1) if text in line)


def refused(client, community: Community, key: str, source: bytes) -> dict:
    response = deploy(client, community, key, source)
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert error["code"] == "invalid_definition"
    assert error["details"]["file"] == f"{key}.bpmn"
    assert client.get(f"/api/definitions/{key}", headers=bearer(community.tokens["admin"])).status_code == 404
    return error


def waiting(key: str, expression: str, kind: str) -> bytes:
    return b.linear(key, b.timer_event("wait", expression, kind), b.user_task("after"))


def multi_instance(key: str, characteristics: str, sequential: bool = False) -> bytes:
    """start → user task ``each`` run once per instance → end."""
    return b.linear(key, b.Node("each", (
        f'<bpmn:userTask id="each">{{flows}}<bpmn:multiInstanceLoopCharacteristics isSequential="{str(sequential).lower()}">'
        f"{characteristics}</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>"
    )))


def tasks(count: int) -> list[b.Node]:
    return [b.Node(f"t{i}", f'<bpmn:task id="t{i}">{{flows}}</bpmn:task>') for i in range(count)]


# -- Timers written as literals --------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "expression", "limit", "says"), [
    ("timeDate", "'not-a-date'", None, "not an ISO 8601 date"),
    ("timeDate", "5", None, "must be an ISO 8601 text, not int 5"),
    ("timeDate", "'0001-01-01T00:00:00'", "TIMER_YEARS", "year 1"),
    ("timeDate", "'2201-01-01T00:00'", "TIMER_YEARS", "year 2201"),
    ("timeDuration", "'garbage'", None, "not an ISO 8601 duration"),
    ("timeDuration", "None", None, "not nothing (None)"),
    ("timeDuration", "'P100000Y'", "MAX_TIMER_DURATION", "longer than MAX_TIMER_DURATION"),
    ("timeDuration", "'P999999999Y'", "MAX_TIMER_DURATION", "longer than MAX_TIMER_DURATION"),
    ("timeDuration", "'P10Y1D'", "MAX_TIMER_DURATION", "longer than MAX_TIMER_DURATION"),
    ("timeCycle", "'R/garbage'", "MAX_TIMER_CYCLES", "repeats without end"),
    ("timeCycle", "'R/PT0S'", "MAX_TIMER_CYCLES", "repeats without end"),
    ("timeCycle", "'R3/PT0S'", "MIN_CYCLE_INTERVAL", "more often than MIN_CYCLE_INTERVAL"),
    ("timeCycle", "'R101/PT1H'", "MAX_TIMER_CYCLES", "MAX_TIMER_CYCLES (100)"),
    ("timeCycle", "'R3/garbage'", None, "not an ISO 8601 duration"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_a_literal_timer_out_of_bounds_is_refused_naming_the_event_and_the_limit(
    client, community: Community, kind: str, expression: str, limit: str | None, says: str
) -> None:
    source = waiting("bad_timer", expression, kind)
    error = refused(client, community, "bad_timer", source)
    assert says in error["message"]
    assert error["details"]["element_id"] == "wait"
    assert error["details"]["line"] == line_of(source, f"<bpmn:{kind}")
    assert error["details"].get("limit") == limit
    if limit:
        assert limit in error["message"]


@pytest.mark.parametrize(("kind", "expression"), [
    ("timeDate", '"2030-06-30T18:00"'),
    ("timeDate", '"2030-06-30T18:00+08:00"'),
    ("timeDuration", '"PT2H"'),
    ("timeDuration", '"P10Y"'),
    ("timeCycle", '"R3/PT1M"'),
    ("timeCycle", '"R100/2030-01-01T09:00/P1D"'),
    ("timeDate", "deadline"),  # computed: checked when armed
    ("timeDuration", 'f"PT{hours}H"'),
])
def test_timers_within_bounds_or_computed_deploy(client, community: Community, kind: str, expression: str) -> None:
    assert deploy(client, community, "good_timer", waiting("good_timer", expression, kind)).status_code == 201


def test_a_boundary_timer_is_checked_too(client, community: Community) -> None:
    error = refused(client, community, "bad_boundary", b.boundary_timer("bad_boundary", "'P999999999Y'"))
    assert (error["details"]["element_id"], error["details"]["limit"]) == ("too_late", "MAX_TIMER_DURATION")


def test_an_event_based_gateway_waiting_for_two_timers_is_refused(client, community: Community) -> None:
    def catch(id: str, definition: str) -> str:
        return (f'<bpmn:intermediateCatchEvent id="{id}"><bpmn:incoming>to_{id}</bpmn:incoming>'
                f'<bpmn:outgoing>{id}_end</bpmn:outgoing>{definition}</bpmn:intermediateCatchEvent>'
                f'<bpmn:sequenceFlow id="to_{id}" sourceRef="first_of" targetRef="{id}" />'
                f'<bpmn:sequenceFlow id="{id}_end" sourceRef="{id}" targetRef="end" />')

    def timer(id: str, duration: str) -> str:
        return (f'<bpmn:timerEventDefinition id="{id}_timer"><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'
                f'"{duration}"</bpmn:timeDuration></bpmn:timerEventDefinition>')

    def gateway(key: str, second: str) -> bytes:
        return b.definitions(
            f'<bpmn:process id="{key}" isExecutable="true">'
            '<bpmn:startEvent id="start"><bpmn:outgoing>to_gateway</bpmn:outgoing></bpmn:startEvent>'
            '<bpmn:sequenceFlow id="to_gateway" sourceRef="start" targetRef="first_of" />'
            '<bpmn:eventBasedGateway id="first_of"><bpmn:incoming>to_gateway</bpmn:incoming>'
            '<bpmn:outgoing>to_soon</bpmn:outgoing><bpmn:outgoing>to_late</bpmn:outgoing></bpmn:eventBasedGateway>'
            + catch("soon", timer("soon", "P1D")) + catch("late", second)
            + '<bpmn:endEvent id="end"><bpmn:incoming>soon_end</bpmn:incoming><bpmn:incoming>late_end</bpmn:incoming></bpmn:endEvent>'
            "</bpmn:process>"
        )

    error = refused(client, community, "two_timers", gateway("two_timers", timer("late", "P7D")))
    assert error["details"]["element_id"] == "first_of"
    assert "one timer only" in error["message"] and "soon, late" in error["message"]
    signal = '<bpmn:signalEventDefinition id="late_signal" signalRef="stop" />'
    one_timer = gateway("one_timer", signal).replace(b"</bpmn:definitions>", b'<bpmn:signal id="stop" name="stop" /></bpmn:definitions>')
    assert deploy(client, community, "one_timer", one_timer).status_code == 201


# -- Multi-instance cardinality --------------------------------------------------------------------------------


def test_a_literal_cardinality_over_the_limit_is_refused(client, community: Community) -> None:
    over = limits.MAX_MULTI_INSTANCES + 1
    source = multi_instance("many", f"<bpmn:loopCardinality>{over}</bpmn:loopCardinality>")
    error = refused(client, community, "many", source)
    assert f"MAX_MULTI_INSTANCES ({limits.MAX_MULTI_INSTANCES})" in error["message"]
    assert (error["details"]["element_id"], error["details"]["limit"]) == ("each", "MAX_MULTI_INSTANCES")
    assert error["details"]["line"] == line_of(source, "loopCardinality")


def test_a_literal_cardinality_that_is_no_count_is_refused(client, community: Community) -> None:
    error = refused(client, community, "odd", multi_instance("odd", "<bpmn:loopCardinality>'three'</bpmn:loopCardinality>"))
    assert "whole number" in error["message"] and error["details"]["element_id"] == "each"


def test_a_cardinality_at_the_limit_deploys_and_runs(client, community: Community) -> None:
    source = multi_instance("at_limit", f"<bpmn:loopCardinality>{limits.MAX_MULTI_INSTANCES}</bpmn:loopCardinality>")
    assert deploy(client, community, "at_limit", source).status_code == 201
    started = client.post("/api/instances", json={"definition_key": "at_limit"}, headers=bearer(community.tokens["chair"]))
    assert started.status_code == 201
    assert started.json["status"] == "running"
    assert len(started.json["open_tasks"]) == limits.MAX_MULTI_INSTANCES


# -- Size ------------------------------------------------------------------------------------------------------


def _compact(key: str, count: int, parallel: bool) -> bytes:
    """A generated process with ``count`` plain tasks, in a row or between a parallel split and join,
    written tightly (no lanes, no incoming/outgoing) so that it stays under the byte limit."""
    ids = [f"t{i}" for i in range(count)]
    nodes = "".join(f'<bpmn:task id="{i}"/>' for i in ids)
    if parallel:
        nodes += '<bpmn:parallelGateway id="split"/><bpmn:parallelGateway id="join"/>'
        flows = ['<bpmn:sequenceFlow id="a" sourceRef="s" targetRef="split"/><bpmn:sequenceFlow id="z" sourceRef="join" targetRef="e"/>']
        flows += [f'<bpmn:sequenceFlow id="i{i}" sourceRef="split" targetRef="{i}"/><bpmn:sequenceFlow id="o{i}" sourceRef="{i}" targetRef="join"/>'
                  for i in ids]
    else:
        chain = ["s", *ids, "e"]
        flows = [f'<bpmn:sequenceFlow id="f{n}" sourceRef="{a}" targetRef="{z}"/>' for n, (a, z) in enumerate(zip(chain, chain[1:]))]
    return (b.HEADER + f'<bpmn:process id="{key}" isExecutable="true"><bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>'
            + nodes + "".join(flows) + "</bpmn:process></bpmn:definitions>").encode()


def test_a_20000_task_sequence_is_refused_by_the_size_limit_before_anything_recurses(client, community: Community) -> None:
    source = _compact("long_row", 20_000, parallel=False)
    assert len(source) < limits.MAX_DEFINITION_BYTES  # so it is the element count that refuses it
    error = refused(client, community, "long_row", source)
    assert f"MAX_FLOW_ELEMENTS ({limits.MAX_FLOW_ELEMENTS})" in error["message"]
    assert error["details"]["limit"] == "MAX_FLOW_ELEMENTS"
    assert "Recursion" not in error["message"]


def test_many_parallel_tasks_are_refused_by_the_size_limit(client, community: Community) -> None:
    source = _compact("wide", 5_000, parallel=True)
    assert len(source) < limits.MAX_DEFINITION_BYTES
    error = refused(client, community, "wide", source)
    assert error["details"]["limit"] == "MAX_FLOW_ELEMENTS"


def test_a_file_over_the_byte_limit_is_refused_naming_it(client, community: Community) -> None:
    source = _compact("huge", 20_000, parallel=True)
    assert len(source) > limits.MAX_DEFINITION_BYTES
    error = refused(client, community, "huge", source)
    assert error["details"]["limit"] == "MAX_DEFINITION_BYTES"
    assert "MAX_DEFINITION_BYTES" in error["message"]


def test_a_chain_longer_than_the_parser_can_follow_is_refused_naming_the_limit(client, community: Community) -> None:
    source = b.linear("long_chain", *tasks(limits.MAX_FLOW_DEPTH + 50))  # under MAX_FLOW_ELEMENTS
    error = refused(client, community, "long_chain", source)
    assert error["details"]["limit"] == "MAX_FLOW_DEPTH"
    assert f"MAX_FLOW_DEPTH ({limits.MAX_FLOW_DEPTH})" in error["message"]
    assert error["details"]["element_id"].startswith("t")
    assert "Recursion" not in error["message"]


def test_a_chain_within_the_limit_deploys_and_runs(client, community: Community) -> None:
    source = b.linear("chain", *tasks(limits.MAX_FLOW_DEPTH - 10))
    assert deploy(client, community, "chain", source).status_code == 201
    started = client.post("/api/instances", json={"definition_key": "chain"}, headers=bearer(community.tokens["chair"]))
    assert (started.status_code, started.json["status"]) == (201, "running")


def _nested(key: str, depth: int) -> bytes:
    """start → subprocess → subprocess → … (``depth`` levels) → a user task at the bottom → end."""
    inner = '<bpmn:startEvent id="s{n}"><bpmn:outgoing>a{n}</bpmn:outgoing></bpmn:startEvent>{body}' \
            '<bpmn:endEvent id="e{n}"><bpmn:incoming>z{n}</bpmn:incoming></bpmn:endEvent>' \
            '<bpmn:sequenceFlow id="a{n}" sourceRef="s{n}" targetRef="x{n}"/><bpmn:sequenceFlow id="z{n}" sourceRef="x{n}" targetRef="e{n}"/>'
    body = '<bpmn:userTask id="x{n}"><bpmn:incoming>a{n}</bpmn:incoming><bpmn:outgoing>z{n}</bpmn:outgoing></bpmn:userTask>'.format(n=depth)
    for level in range(depth, 0, -1):
        content = inner.format(n=level, body=body)
        body = (f'<bpmn:subProcess id="x{level - 1}"><bpmn:incoming>a{level - 1}</bpmn:incoming>'
                f"<bpmn:outgoing>z{level - 1}</bpmn:outgoing>{content}</bpmn:subProcess>")
    process = f'<bpmn:process id="{key}" isExecutable="true">' + inner.format(n=0, body=body) + "</bpmn:process>"
    return (b.HEADER + process + "</bpmn:definitions>").encode()


def test_subprocesses_nested_too_deep_are_refused(client, community: Community) -> None:
    error = refused(client, community, "deep", _nested("deep", limits.MAX_NESTING_DEPTH + 1))
    assert error["details"]["limit"] == "MAX_NESTING_DEPTH"
    assert error["details"]["element_id"] == f"x{limits.MAX_NESTING_DEPTH}"


def test_subprocesses_nested_within_the_limit_deploy_and_run(client, community: Community) -> None:
    assert deploy(client, community, "nested", _nested("nested", limits.MAX_NESTING_DEPTH)).status_code == 201
    started = client.post("/api/instances", json={"definition_key": "nested"}, headers=bearer(community.tokens["chair"]))
    assert started.status_code == 201
    assert [t["element_id"] for t in started.json["open_tasks"]] == [f"x{limits.MAX_NESTING_DEPTH}"]
