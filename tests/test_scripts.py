"""The script sandbox seen from outside: deploying and running hostile definitions through the API.

Escapes that the sandbox can see in the source are refused when the definition is deployed (a 422
naming the element); what only shows when a script runs (a forbidden name, a runaway loop, a huge
number) puts the instance in status ``error`` with the failing task visible, for an admin to retry.
Either way the server keeps answering. (tests/test_sandbox.py tests the sandbox itself.)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from engine.kernel.models import Instance
from engine.kernel.replay import replay
from tests import bpmn_samples as b
from tests.fixtures import bearer
from tests.helpers import Community

MARKER = Path(tempfile.gettempdir()) / "yishi-sandbox-escaped"
ESCAPE = f"__import__('os').system('touch {MARKER}')"


def deploy(client, community: Community, key: str, source: bytes):
    return client.post("/api/definitions", json={"filename": f"{key}.bpmn", "source": source.decode()},
                       headers=bearer(community.tokens["admin"]))


def start(client, community: Community, key: str):
    return client.post("/api/instances", json={"definition_key": key}, headers=bearer(community.tokens["chair"]))


@pytest.mark.parametrize(("source", "element_id"), [
    (b.minimal("import_in_script", script=ESCAPE), "prepare"),
    (b.gateway("import_in_condition", ESCAPE), "choice"),
    (b.boundary_timer("import_in_timer", ESCAPE), "too_late"),
    (b.linear("import_in_timer_event", b.timer_event("wait", ESCAPE, "timeDate")), "wait"),
    (b.minimal("subclasses", script="x = ().__class__.__base__.__subclasses__()"), "prepare"),
    (b.minimal("private_attribute", script="x = random._os.system('true')"), "prepare"),
    (b.minimal("import_statement", script="import os"), "prepare"),
], ids=["script", "gateway condition", "boundary timer", "timer event", "subclasses", "private attribute", "import"])
def test_escapes_are_refused_at_deployment_naming_the_element(client, community: Community, source: bytes, element_id: str) -> None:
    response = deploy(client, community, "escape", source)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid_definition"
    assert error["details"]["element_id"] == element_id
    assert f"element {element_id}" in error["message"]
    assert "refused" in error["message"]
    assert client.get("/api/health").status_code == 200
    assert not MARKER.exists()


def test_open_is_refused_when_the_script_runs(client, community: Community, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    assert deploy(client, community, "reader", b.minimal("reader", script=f"stolen = open({str(secret)!r}).read()")).status_code == 201

    started = start(client, community, "reader")
    assert started.status_code == 201
    instance = started.json
    assert instance["status"] == "error"
    (task,) = instance["open_tasks"]
    assert (task["element_id"], task["state"]) == ("prepare", "ERROR")
    assert "'open' is not allowed" in task["error"]
    assert instance["error"]["element_id"] == "prepare"
    assert "TOP-SECRET-MARKER" not in started.get_data(as_text=True)
    assert "stolen" not in instance["data"]
    assert client.get("/api/health").status_code == 200


@pytest.mark.parametrize(("key", "source", "element_id"), [
    ("open_in_condition", b.gateway("open_in_condition", "len(open('/etc/hostname').read()) > 0"), "choice"),
    ("open_in_timer", b.boundary_timer("open_in_timer", "open('/etc/hostname').read()"), "too_late"),
], ids=["gateway condition", "timer expression"])
def test_run_time_refusals_outside_script_tasks_stop_the_instance(
    client, community: Community, key: str, source: bytes, element_id: str
) -> None:
    assert deploy(client, community, key, source).status_code == 201
    instance = start(client, community, key).json
    assert instance["status"] == "error"
    assert instance["error"]["element_id"] == element_id
    assert "'open' is not allowed" in instance["error"]["message"]
    assert client.get("/api/health").status_code == 200


@pytest.mark.parametrize(("script", "message"), [
    ("while True: pass", "step budget"),
    ("x = 9**9**9", "4096 bits"),
    ("a1 = [1]*100000\na2 = [1]*100000\nb1 = [a1]*100000\nb2 = [a2]*100000\nsame = b1 == b2\ndel a1, a2, b1, b2",
     "hard time limit"),
], ids=["endless loop", "huge power", "C-level comparison"])
def test_a_runaway_script_is_stopped_and_an_admin_can_see_and_retry_it(
    client, community: Community, script: str, message: str
) -> None:
    assert deploy(client, community, "runaway", b.minimal("runaway", script=script)).status_code == 201
    instance = start(client, community, "runaway").json
    assert instance["status"] == "error"
    url = f"/api/instances/{instance['id']}"

    shown = client.get(url, headers=bearer(community.tokens["admin"])).json
    assert shown["status"] == "error"
    assert message in shown["error"]["message"]
    (task,) = shown["open_tasks"]
    assert (task["element_id"], task["state"]) == ("prepare", "ERROR")
    assert message in task["error"]

    for who in ("alice", "chair", "clerk", "auditor"):
        assert client.post(f"{url}/retry", headers=bearer(community.tokens[who])).status_code == 403, who
    retried = client.post(f"{url}/retry", headers=bearer(community.tokens["admin"]))
    assert retried.status_code == 200
    assert retried.json["status"] == "error"  # the same script fails the same way: the budget counts steps
    assert [t["state"] for t in retried.json["open_tasks"]] == ["ERROR"]

    events = client.get(f"{url}/events", headers=bearer(community.tokens["admin"])).json["items"]
    assert [e["type"] for e in events] == ["instance_started", "instance_retried"]
    assert events[1]["actor_id"] == community["admin"].member_id
    assert message in events[1]["error"]["message"]
    assert client.get("/api/health").status_code == 200


def test_only_a_failed_instance_can_be_retried(client, community: Community) -> None:
    assert deploy(client, community, "calm", b.minimal("calm", script="x = 1")).status_code == 201
    instance = start(client, community, "calm").json
    assert instance["status"] == "running"
    response = client.post(f"/api/instances/{instance['id']}/retry", headers=bearer(community.tokens["admin"]))
    assert response.status_code == 409


def test_a_failed_instance_takes_no_other_command(client, community: Community) -> None:
    assert deploy(client, community, "stuck", b.linear(
        "stuck", b.user_task("review"), b.script_task("boom", "x = 1 // 0"), b.user_task("after"))).status_code == 201
    instance = start(client, community, "stuck").json
    (review,) = instance["open_tasks"]
    completed = client.post(f"/api/tasks/{review['id']}/complete", json={}, headers=bearer(community.tokens["chair"]))
    assert completed.json["status"] == "error"
    (failed,) = completed.json["open_tasks"]
    assert (failed["element_id"], failed["state"]) == ("boom", "ERROR")
    assert "ZeroDivisionError" in failed["error"]
    again = client.post(f"/api/tasks/{failed['id']}/complete", json={}, headers=bearer(community.tokens["chair"]))
    assert again.status_code == 409


def test_an_admin_retry_can_correct_the_failed_tasks_data(client, deployed, community: Community) -> None:
    assert deploy(client, community, "needs_x", b.linear(
        "needs_x", b.script_task("compute", "y = x + 1"), b.user_task("after"))).status_code == 201
    instance = start(client, community, "needs_x").json
    assert (instance["status"], instance["error"]["element_id"]) == ("error", "compute")
    url = f"/api/instances/{instance['id']}/retry"

    bad = client.post(url, json={"data": {"x": 1}, "extra": True}, headers=bearer(community.tokens["admin"]))
    assert bad.status_code == 422
    fixed = client.post(url, json={"data": {"x": 41}}, headers=bearer(community.tokens["admin"]))
    assert fixed.status_code == 200
    assert fixed.json["status"] == "running"
    assert [t["element_id"] for t in fixed.json["open_tasks"]] == ["after"]
    assert fixed.json["data"]["y"] == 42
    events = client.get(f"/api/instances/{instance['id']}/events", headers=bearer(community.tokens["admin"])).json["items"]
    assert events[-1]["type"] == "instance_retried" and events[-1]["input"]["data"] == {"x": 41}
    assert events[-1]["error"] is None
    with deployed.read() as session:
        assert replay(session, session.get(Instance, instance["id"])).ok


def test_a_failing_post_script_fails_the_instance_not_the_request_and_a_retry_lets_the_task_be_done_again(
    client, deployed, community: Community
) -> None:
    decide = b.Node("decide", '<bpmn:userTask id="decide"><bpmn:extensionElements><spiffworkflow:postScript>'
                              "share = 100 // members</spiffworkflow:postScript></bpmn:extensionElements>{flows}</bpmn:userTask>")
    assert deploy(client, community, "shares", b.linear("shares", decide, b.user_task("after"))).status_code == 201
    started = client.post("/api/instances", json={"definition_key": "shares", "variables": {"members": 0}},
                          headers=bearer(community.tokens["chair"])).json
    (task,) = started["open_tasks"]
    completed = client.post(f"/api/tasks/{task['id']}/complete", json={}, headers=bearer(community.tokens["chair"]))
    assert completed.status_code == 200
    assert completed.json["status"] == "error"
    (failed,) = completed.json["open_tasks"]
    assert (failed["id"], failed["state"]) == (task["id"], "ERROR")
    assert "ZeroDivisionError" in failed["error"]
    assert "share" not in completed.json["data"]

    url = f"/api/instances/{started['id']}/retry"
    retried = client.post(url, json={"data": {"members": 4}}, headers=bearer(community.tokens["admin"]))
    assert retried.json["status"] == "running"
    assert [(t["id"], t["state"]) for t in retried.json["open_tasks"]] == [(task["id"], "READY")]
    done = client.post(f"/api/tasks/{task['id']}/complete", json={}, headers=bearer(community.tokens["chair"]))
    assert done.json["status"] == "running"
    assert [t["element_id"] for t in done.json["open_tasks"]] == ["after"]
    assert done.json["data"]["share"] == 25
    with deployed.read() as session:
        assert replay(session, session.get(Instance, started["id"])).ok
