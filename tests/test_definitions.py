"""Deploying definitions: versions, what is refused and how the refusal names the culprit, and the HTTP API."""

from __future__ import annotations

import pytest

from engine.kernel.commands import CompleteTask, DeployDefinition, StartInstance
from engine.kernel.errors import DefinitionError
from engine.kernel.models import Instance
from engine.bootstrap import Engine
from tests import bpmn_samples as b
from tests.fixtures import bearer
from tests.helpers import Community


def deploy(engine: Engine, filename: str, source: bytes):
    return engine.execute(DeployDefinition(filename, source))


def open_tasks(engine: Engine, instance_id: str) -> dict[str, tuple[str, str]]:
    """element id → (task id, task name) of the instance's ready tasks."""
    with engine.read() as session:
        return {t.element_id: (t.id, t.name) for t in session.get(Instance, instance_id).tasks if t.state == "READY"}


def line_of(source: bytes, text: str) -> int:
    return next(number for number, line in enumerate(source.decode().splitlines(), 1) if text in line)


def refusal(engine: Engine, filename: str, source: bytes) -> DefinitionError:
    with pytest.raises(DefinitionError) as raised:
        deploy(engine, filename, source)
    return raised.value


# -- Versions ---------------------------------------------------------------------------------------------------


def test_deploying_identical_content_again_changes_nothing(engine: Engine) -> None:
    first = deploy(engine, "sample.bpmn", b.minimal())
    again = deploy(engine, "sample.bpmn", b.minimal())
    assert (first.created, first.definition.version) == (True, 1)
    assert (again.created, again.definition.version, again.definition.id) == (False, 1, first.definition.id)


def test_changed_content_becomes_the_next_version(engine: Engine) -> None:
    deploy(engine, "sample.bpmn", b.minimal())
    second = deploy(engine, "sample.bpmn", b.minimal(task_name="Review again"))
    third = deploy(engine, "renamed.bpmn", b.minimal(task_name="Review once more"))
    assert (second.created, second.definition.version) == (True, 2)
    assert (third.definition.key, third.definition.version) == ("sample", 3)


def test_a_running_instance_stays_on_the_version_it_started_with(engine: Engine, community: Community) -> None:
    chair = community["chair"]
    deploy(engine, "versioned.bpmn", b.linear("versioned", b.user_task("review", "Review")))
    old = engine.execute(StartInstance("versioned"), chair).id
    engine.execute(DeployDefinition("versioned.bpmn", b.linear(  # the community's own version 1: what it runs now
        "versioned", b.user_task("review", "Review the proposal"), b.user_task("approve", "Approve"))), community["admin"])
    new = engine.execute(StartInstance("versioned"), chair).id

    assert open_tasks(engine, old)["review"][1] == "Review"
    assert open_tasks(engine, new)["review"][1] == "Review the proposal"
    engine.execute(CompleteTask(open_tasks(engine, old)["review"][0]), chair)
    engine.execute(CompleteTask(open_tasks(engine, new)["review"][0]), chair)
    with engine.read() as session:
        old_instance, new_instance = session.get(Instance, old), session.get(Instance, new)
        assert (old_instance.definition.community_id, old_instance.definition.version, old_instance.status) == (
            None, 1, "completed")
        assert (new_instance.definition.community_id, new_instance.definition.version, new_instance.status) == (
            community.id, 1, "running")
    assert list(open_tasks(engine, new)) == ["approve"]


# -- Refusals name the file, the element and the line -----------------------------------------------------------


def test_malformed_xml_is_refused_with_file_and_line(engine: Engine) -> None:
    source = b.minimal().replace(b'<bpmn:userTask id="review"', b'<bpmn:userTask id="review" <oops')
    error = refusal(engine, "broken.bpmn", source)
    assert error.details["file"] == "broken.bpmn"
    assert error.details["line"] == line_of(source, "<oops")
    assert "not well-formed" in error.message


def test_an_unknown_element_is_refused_with_its_id_and_line(engine: Engine) -> None:
    source = b.minimal().replace(b"</bpmn:process>", b'\n<bpmn:frobnicator id="mystery" />\n</bpmn:process>')
    error = refusal(engine, "unknown.bpmn", source)
    assert error.details["file"] == "unknown.bpmn"
    assert error.details["element_id"] == "mystery"
    assert error.details["line"] == line_of(source, "frobnicator")
    assert "frobnicator" in error.message


def test_a_missing_form_is_refused_naming_its_task(engine: Engine) -> None:
    error = refusal(engine, "form.bpmn", b.linear("form", b.user_task("fill_in", form="consultation/no_such_form.json")))
    assert error.details == {"file": "form.bpmn", "element_id": "fill_in"}
    assert "no_such_form.json" in error.message


def test_a_form_outside_the_forms_folder_is_refused(engine: Engine) -> None:
    error = refusal(engine, "form.bpmn", b.linear("form", b.user_task("fill_in", form="../../pyproject.json")))
    assert error.details["element_id"] == "fill_in"


def test_an_unknown_precondition_is_refused_naming_its_task(engine: Engine) -> None:
    error = refusal(engine, "pre.bpmn", b.linear("pre", b.user_task("decide", precondition="moon_is_full")))
    assert error.details == {"file": "pre.bpmn", "element_id": "decide"}
    assert "moon_is_full" in error.message


def test_a_file_with_two_main_processes_is_refused(engine: Engine) -> None:
    source = b.definitions(b.process("first", b.user_task("a")), b.process("second", b.user_task("b2")))
    error = refusal(engine, "two.bpmn", source)
    assert error.details["file"] == "two.bpmn"
    assert "first" in error.message and "second" in error.message


def test_a_call_activity_to_a_process_not_deployed_is_refused(engine: Engine) -> None:
    error = refusal(engine, "caller.bpmn", b.linear("caller", b.call_activity("delegate", "nowhere")))
    assert error.details["file"] == "caller.bpmn"
    assert error.details["element_id"] == "delegate"
    assert "nowhere" in error.message


def test_a_call_activity_to_a_deployed_process_runs_it(engine: Engine, community: Community) -> None:
    deploy(engine, "callee.bpmn", b.linear("callee", b.script_task("mark", "called = True")))
    deploy(engine, "caller.bpmn", b.linear("caller", b.call_activity("delegate", "callee"), b.user_task("after")))
    instance = engine.execute(StartInstance("caller"), community["chair"])
    assert list(open_tasks(engine, instance.id)) == ["after"]
    assert instance.data["called"] is True


def test_a_refused_deployment_writes_nothing(engine: Engine) -> None:
    refusal(engine, "pre.bpmn", b.linear("pre", b.user_task("decide", precondition="moon_is_full")))
    first = deploy(engine, "pre.bpmn", b.linear("pre", b.user_task("decide")))
    assert first.definition.version == 1


# -- Through the HTTP API ---------------------------------------------------------------------------------------


def test_an_admin_deploys_over_http_and_anyone_reads_the_source(client, community: Community) -> None:
    admin, chair = bearer(community.tokens["admin"]), bearer(community.tokens["chair"])
    source = b.minimal("http_sample").decode()

    created = client.post("/api/definitions", json={"filename": "http_sample.bpmn", "source": source}, headers=admin)
    assert created.status_code == 201
    assert created.json["created"] is True
    assert (created.json["definition"]["key"], created.json["definition"]["version"]) == ("http_sample", 1)
    again = client.post("/api/definitions", json={"filename": "http_sample.bpmn", "source": source}, headers=admin)
    assert (again.json["created"], again.json["definition"]["version"]) == (False, 1)

    shown = client.get("/api/definitions/http_sample", headers=chair)
    assert shown.status_code == 200
    assert shown.json["source"] == source
    assert client.get("/api/definitions/http_sample/versions/1", headers=chair).json["source"] == source


def test_only_admins_deploy(client, community: Community) -> None:
    source = b.minimal("http_sample").decode()
    for who in ("chair", "alice", "auditor"):
        response = client.post("/api/definitions", json={"filename": "x.bpmn", "source": source},
                               headers=bearer(community.tokens[who]))
        assert response.status_code == 403, who
    assert client.get("/api/definitions/http_sample", headers=bearer(community.tokens["admin"])).status_code == 404


def test_a_refused_definition_is_a_422_naming_the_element(client, community: Community) -> None:
    source = b.linear("pre", b.user_task("decide", precondition="moon_is_full")).decode()
    response = client.post("/api/definitions", json={"filename": "pre.bpmn", "source": source},
                           headers=bearer(community.tokens["admin"]))
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_definition"
    assert response.json["error"]["details"] == {"file": "pre.bpmn", "element_id": "decide"}
