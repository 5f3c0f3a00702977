"""Each community owns its processes (issue 13, section 3), through the HTTP API.

A community's admin deploys versions of the community's own; the bundled processes are the
platform's, changed only by the platform operator (the CLI, holding the database: here the engine
without an actor); a community runs a new platform version only once its admin adopts it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.kernel.commands import AdoptDefinition, DeployDefinition, StartInstance
from engine.kernel.clock import ManualClock
from engine.kernel.models import DefinitionAdoption
from engine.bootstrap import Engine
from tests import bpmn_samples as b
from tests.fixtures import bearer
from tests.helpers import Community, at_once

CONSULTATION = (Path(__file__).resolve().parent.parent / "processes" / "consultation.bpmn").read_text(encoding="utf-8")
FIRST_TASK = 'name="Draft the topic"'


def consultation_naming(first_task: str) -> str:
    """The bundled consultation, with its first task renamed: each version says which one runs."""
    assert FIRST_TASK in CONSULTATION
    return CONSULTATION.replace(FIRST_TASK, f'name="{first_task}"')


def deploy(client: Any, community: Community, source: str, who: str = "admin") -> Any:
    return client.post("/api/definitions", json={"filename": "consultation.bpmn", "source": source},
                       headers=bearer(community.tokens[who]))


def start(client: Any, community: Community, key: str = "consultation") -> dict[str, Any]:
    response = client.post("/api/instances", json={"definition_key": key}, headers=bearer(community.tokens["chair"]))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def first_task(client: Any, community: Community, instance: dict[str, Any]) -> str:
    (task,) = [t["name"] for t in instance["open_tasks"]]
    return task


def versions(client: Any, community: Community, key: str = "consultation") -> list[dict[str, Any]]:
    response = client.get(f"/api/definitions?key={key}", headers=bearer(community.tokens["chair"]))
    assert response.status_code == 200
    return response.get_json()["items"]


def test_another_communitys_admin_cannot_change_what_a_community_starts(
    client: Any, community: Community, other_community: Community, clock: ManualClock,
) -> None:
    a, b = community, other_community
    deployed = deploy(client, b, consultation_naming("Draft B's topic"))
    assert deployed.status_code == 201, deployed.get_json()
    assert {k: deployed.get_json()["definition"][k] for k in ("key", "version", "owner")} == {
        "key": "consultation", "version": 1, "owner": "community"}

    in_a, in_b = start(client, a), start(client, b)
    assert (in_a["definition_owner"], in_a["definition_version"], first_task(client, a, in_a)) == ("platform", 1, "Draft the topic")
    assert (in_b["definition_owner"], in_b["definition_version"], first_task(client, b, in_b)) == ("community", 1, "Draft B's topic")

    # A sees the platform's version only, B its own before the platform's; each says who deployed it and when.
    assert [(v["owner"], v["version"], v["deployed_by"]) for v in versions(client, a)] == [("platform", 1, None)]
    seen_by_b = versions(client, b)
    assert [(v["owner"], v["version"], v["deployed_by"], v["deployed_by_name"]) for v in seen_by_b] == [
        ("community", 1, b["admin"].member_id, "admin"), ("platform", 1, None, None)]
    assert all(v["deployed_at"] for v in seen_by_b)
    chair_a = bearer(a.tokens["chair"])
    assert client.get("/api/definitions/consultation/versions/1", headers=chair_a).status_code == 404  # A has none of its own
    assert client.get("/api/definitions/consultation/versions/1?owner=platform", headers=chair_a).json["owner"] == "platform"
    assert 'Draft B' not in client.get("/api/definitions/consultation", headers=chair_a).json["source"]


def test_a_platform_upgrade_changes_a_community_only_once_its_admin_adopts_it(
    deployed: Engine, client: Any, community: Community, other_community: Community,
) -> None:
    a, b = community, other_community
    assert first_task(client, a, start(client, a)) == "Draft the topic"  # A pins the platform's version 1
    upgraded = deployed.execute(DeployDefinition("consultation.bpmn", consultation_naming("Draft the topic, v2").encode()))
    assert (upgraded.created, upgraded.definition.community_id, upgraded.definition.version) == (True, None, 2)

    again = start(client, a)
    assert (again["definition_owner"], again["definition_version"], first_task(client, a, again)) == ("platform", 1, "Draft the topic")
    assert first_task(client, b, start(client, b)) == "Draft the topic, v2"  # B first runs it now: the current one

    admin = bearer(a.tokens["admin"])
    assert client.post("/api/definitions/consultation/adopt", json={"version": 2}, headers=bearer(a.tokens["chair"])).status_code == 403
    assert client.post("/api/definitions/consultation/adopt", json={"version": 3}, headers=admin).status_code == 404
    adopted = client.post("/api/definitions/consultation/adopt", json={"version": 2}, headers=admin)
    assert adopted.status_code == 201, adopted.get_json()
    assert {k: adopted.json[k] for k in ("number", "version", "owner", "adopted_by")} == {
        "number": 2, "version": 2, "owner": "platform", "adopted_by": a["admin"].member_id}
    after = start(client, a)
    assert (after["definition_version"], first_task(client, a, after)) == (2, "Draft the topic, v2")

    history = client.get("/api/definitions/consultation/adoptions", headers=admin).json
    assert [(h["number"], h["version"], h["adopted_by"]) for h in history] == [(1, 1, None), (2, 2, a["admin"].member_id)]


def test_adopting_a_platform_version_replaces_the_communitys_own_and_back(client: Any, community: Community) -> None:
    assert deploy(client, community, consultation_naming("Our own draft")).status_code == 201
    assert first_task(client, community, start(client, community)) == "Our own draft"
    admin = bearer(community.tokens["admin"])
    assert client.post("/api/definitions/consultation/adopt", json={"version": 1}, headers=admin).status_code == 201
    assert first_task(client, community, start(client, community)) == "Draft the topic"
    assert deploy(client, community, consultation_naming("Our second draft")).json["definition"]["version"] == 2
    assert first_task(client, community, start(client, community)) == "Our second draft"


def test_a_community_admin_cannot_deploy_a_platform_version_through_the_api(
    client: Any, community: Community, other_community: Community,
) -> None:
    refused = client.post("/api/definitions", headers=bearer(community.tokens["admin"]), json={
        "filename": "consultation.bpmn", "source": consultation_naming("Stall everyone"), "owner": "platform"})
    assert refused.status_code == 422
    assert deploy(client, community, consultation_naming("Stall everyone")).json["definition"]["owner"] == "community"
    platform = client.get("/api/definitions/consultation/versions/2?owner=platform", headers=bearer(other_community.tokens["chair"]))
    assert platform.status_code == 404
    assert first_task(client, other_community, start(client, other_community)) == "Draft the topic"


def test_the_audit_bundle_names_each_definitions_owner_and_deployer(client: Any, community: Community) -> None:
    assert deploy(client, community, consultation_naming("Our own draft")).status_code == 201
    start(client, community)
    start(client, community, "vote")
    auditor = bearer(community.tokens["auditor"])
    bundle = client.get("/api/audit/bundle", headers=auditor).get_json()
    named = {d["key"]: (d["owner"], d["deployed_by"]) for d in bundle["definitions"]}
    assert named == {"consultation": (community.id, community["admin"].member_id), "vote": ("platform", None)}
    assert all(d["deployed_at"] for d in bundle["definitions"])
    verdict = client.post("/api/audit/verify-bundle", json=bundle, headers=auditor).get_json()
    assert verdict["ok"], verdict
    # The history commits to the owner too: each instance's first event names the one its definition has.
    owners = {d["id"]: d["owner"] for d in bundle["definitions"]}
    assert sorted(str(i["events"][0]["input"]["owner"]) for i in bundle["instances"]) == sorted(["platform", str(community.id)])
    assert all(i["events"][0]["input"]["owner"] == owners[i["definition_id"]] for i in bundle["instances"])


def test_a_call_activity_calls_the_process_as_the_callers_owner_runs_it(
    deployed: Engine, client: Any, community: Community, other_community: Community,
) -> None:
    def callee(who: str) -> str:
        return b.linear("callee", b.script_task("mark", f"called = {who!r}")).decode()

    caller = b.linear("caller", b.call_activity("delegate", "callee"), b.user_task("after")).decode()
    deployed.execute(DeployDefinition("callee.bpmn", callee("platform").encode()))
    deployed.execute(DeployDefinition("caller.bpmn", caller.encode()))
    post = lambda who, filename, source: client.post(  # noqa: E731
        "/api/definitions", json={"filename": filename, "source": source}, headers=bearer(who.tokens["admin"]))
    assert post(community, "callee.bpmn", callee("harmony")).status_code == 201

    # The platform's caller is one whole with the platform's callee it was deployed with …
    assert start(client, community, "caller")["data"]["called"] == "platform"
    # … a community's own caller calls what the community runs: its own callee, or the platform's.
    assert post(community, "caller.bpmn", caller).status_code == 201
    assert post(other_community, "caller.bpmn", caller).status_code == 201
    assert start(client, community, "caller")["data"]["called"] == "harmony"
    assert start(client, other_community, "caller")["data"]["called"] == "platform"


def test_concurrent_first_starts_pin_one_version_and_all_start(deployed: Engine, community: Community) -> None:
    """The first start of a key pins the platform's version; several at once pin it once and none is refused."""
    chair = community["chair"]
    started = at_once([lambda: deployed.execute(StartInstance("consultation", {}), chair) for _ in range(6)])
    assert all(not isinstance(outcome, BaseException) for outcome in started), started
    assert {instance.definition_id for instance in started} == {started[0].definition_id}
    with deployed.read() as session:
        pins = session.scalars(select(DefinitionAdoption).where(
            DefinitionAdoption.community_id == community.id, DefinitionAdoption.key == "consultation")).all()
        assert [(pin.number, pin.adopted_by) for pin in pins] == [(1, None)]


def test_adoptions_racing_first_starts_are_each_done_or_refused_as_a_conflict(deployed: Engine, community: Community) -> None:
    """Admins adopting while the committee starts its first instances: every start succeeds, an adoption
    that lost its number to another is a conflict (to try again), and the choices stay numbered 1, 2, …"""
    admin, chair = community["admin"], community["chair"]
    outcomes = at_once([lambda: deployed.execute(AdoptDefinition("consultation", 1), admin) for _ in range(4)]
                       + [lambda: deployed.execute(StartInstance("consultation", {}), chair) for _ in range(4)])
    adopted, started = outcomes[:4], outcomes[4:]
    assert not [o for o in started if isinstance(o, BaseException)], started
    assert all(not isinstance(o, BaseException) or getattr(o, "code", None) == "conflict" for o in adopted), adopted
    with deployed.read() as session:
        numbers = session.scalars(select(DefinitionAdoption.number).where(
            DefinitionAdoption.community_id == community.id).order_by(DefinitionAdoption.number)).all()
    assert numbers == list(range(1, len(numbers) + 1))
