"""The audit endpoints' refusals, in the API's one error shape: malformed bundles, a seq out of
range, and who may do what."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import update

from api import create_app
from engine.kernel.commands import StartInstance
from engine.audit.sealing import checkpoints
from engine.audit.sealing import merkle
from engine.audit.offline.verify import verify
from engine.audit.sealing.chain import GENESIS
from engine.bpmn.workflows import canonical_json
from engine.kernel.clock import ManualClock
from engine.audit.sealing.models import Checkpoint
from engine.consultation.models import Opinion
from engine.kernel.unit_of_work import UnitOfWork
from engine.bootstrap import Engine
from tests.builders import consultation
from tests.driver import error_of
from tests.fixtures import bearer
from tests.helpers import Community


@pytest.fixture
def instance(deployed: Engine, community: Community, clock: ManualClock) -> str:
    return consultation(deployed, community, clock, close_early=True)


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    error = error_of(response)
    assert error["code"] == code and error["message"]
    return error


def upload(client: Any, community: Community, body: Any, member: str = "auditor") -> Any:
    return client.post("/api/audit/verify-bundle", json=body, headers=bearer(community.tokens[member]))


def full_bundle(client: Any, community: Community) -> dict[str, Any]:
    response = client.get("/api/audit/bundle", headers=bearer(community.tokens["auditor"]))
    assert response.status_code == 200
    return response.get_json()


def test_an_uploaded_bundle_verifies_as_offline(client: Any, community: Community, instance: str) -> None:
    verdict = upload(client, community, full_bundle(client, community)).get_json()
    assert verdict["ok"] and verdict["first_problem"] is None
    assert verdict["counts"]["replayed events"] == verdict["counts"]["events"] == 14


def test_a_bundle_missing_fields_is_refused_naming_them(client: Any, community: Community, instance: str) -> None:
    bundle = full_bundle(client, community)
    del bundle["instances"][0]["events"][3]["hash"]
    bundle["records"][0]["public"] = "not an object"
    error = refused(upload(client, community, bundle), 422, "invalid_input")
    assert {e["field"] for e in error["details"]["errors"]} == {"instances.0.events.3.hash", "records.0.public"}
    assert "instances.0.events.3.hash" in error["message"]


@pytest.mark.parametrize("body, field", [
    ({"instances": []}, "format"),
    ({"format": "yishi-audit-bundle/1", "instances": {}}, "instances"),
    ([1, 2], "_schema"),
], ids=["no format", "instances not a list", "not an object"])
def test_a_body_that_is_no_bundle_is_refused(client: Any, community: Community, body: Any, field: str) -> None:
    error = refused(upload(client, community, body), 422, "invalid_input")
    assert field in {e["field"] for e in error["details"]["errors"]}


def test_a_bundle_of_another_format_is_a_failed_verdict(client: Any, community: Community) -> None:
    verdict = upload(client, community, {"format": "something-else/1"}).get_json()
    assert not verdict["ok"] and verdict["first_problem"]["check"] == "bundle"


def test_invalid_json_is_a_400(client: Any, community: Community) -> None:
    response = client.post("/api/audit/verify-bundle", data="{", content_type="application/json",
                           headers=bearer(community.tokens["auditor"]))
    refused(response, 400, "invalid_json")


def test_only_the_bundle_upload_may_exceed_the_usual_body_limit(deployed: Engine, community: Community) -> None:
    client = create_app({"TESTING": True, "MAX_CONTENT_LENGTH": 1000, "MAX_BUNDLE_LENGTH": 2000}, engine=deployed).test_client()
    headers = bearer(community.tokens["auditor"])
    padded = {"format": "something-else/1", "padding": "x" * 1500}
    assert client.post("/api/audit/verify-bundle", json=padded, headers=headers).status_code == 200
    refused(client.post("/api/audit/verify-bundle", json={**padded, "padding": "x" * 2500}, headers=headers), 413, "request_entity_too_large")
    refused(client.post("/api/instances", json={"definition_key": "x" * 1500}, headers=headers), 413, "request_entity_too_large")


@pytest.mark.parametrize("seq, status, code", [(15, 404, "not_found"), (10**6, 404, "not_found"), (0, 422, "invalid_input")])
def test_time_travel_out_of_range(client: Any, community: Community, instance: str, seq: int, status: int, code: str) -> None:
    refused(client.get(f"/api/instances/{instance}/as-of/{seq}", headers=bearer(community.tokens["auditor"])), status, code)


def test_replay_of_an_unknown_instance_is_a_404(client: Any, community: Community) -> None:
    refused(client.get("/api/instances/nope/replay", headers=bearer(community.tokens["auditor"])), 404, "not_found")


CHECKING = [("GET", "/api/instances/{instance}/replay", None), ("GET", "/api/instances/{instance}/as-of/2", None),
            ("POST", "/api/audit/verify", {}), ("POST", "/api/audit/verify-bundle", {"format": "x"})]


@pytest.mark.parametrize("method, path, body", CHECKING, ids=[p for _, p, _ in CHECKING])
@pytest.mark.parametrize("member, allowed", [("auditor", True), ("admin", True), ("clerk", True), ("alice", False)])
def test_who_may_check(client: Any, community: Community, instance: str, method: str, path: str, body: Any,
                       member: str, allowed: bool) -> None:
    response = client.open(path.format(instance=instance), method=method, json=body, headers=bearer(community.tokens[member]))
    if allowed:
        assert response.status_code == 200, response.get_json()
    else:
        assert refused(response, 403, "forbidden")["details"]["required"] == ["auditor", "admin", "committee"]


@pytest.mark.parametrize("member, public, status", [
    ("auditor", False, 200), ("admin", False, 200), ("clerk", False, 403), ("alice", False, 403),
    ("alice", True, 200), ("clerk", True, 200),
])
def test_who_may_export(client: Any, community: Community, instance: str, member: str, public: bool, status: int) -> None:
    response = client.get(f"/api/audit/bundle?public={json.dumps(public)}", headers=bearer(community.tokens[member]))
    assert response.status_code == status, response.get_json()


def test_checkpoints_show_only_the_callers_heads(client: Any, community: Community, other_community: Community, instance: str,
                                                  deployed: Engine, clock: ManualClock) -> None:
    consultation(deployed, other_community, clock, close_early=True)
    page = client.get("/api/audit/checkpoints", headers=bearer(community.tokens["alice"])).get_json()
    newest = page["items"][0]
    assert page["total"] == 2 and newest["format"] == checkpoints.FORMAT_V2 and "size" not in newest
    assert newest["reason"] == checkpoints.PUBLISHED  # not "instance … completed": that named the other community's instance
    assert newest["community"]["id"] == community.id and newest["community"]["size"] == 1
    assert [(proof["head"][:2], proof["index"]) for proof in newest["heads"]] == [([community.id, instance], 0)]


BLINDED = {"id", "at", "signature", "root", "previous"}
"""What differs between two checkpoints whatever happened (besides the blinded path, checked apart)."""


def as_seen(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint as a community sees it, less what differs between any two checkpoints: the statement's
    id, time, root and links, and the community path's siblings and nonce (new in every checkpoint)."""
    community = checkpoint["community"]
    assert len(community["path"]) == checkpoints.TOP_DEPTH
    return {**{k: v for k, v in checkpoint.items() if k not in BLINDED | {"key_id"}},
            "community": {k: v for k, v in community.items() if k not in ("path", "nonce")}}


def newest_as_seen(client: Any, community: Community) -> tuple[dict[str, Any], dict[str, Any]]:
    """The newest checkpoint as the community's member lists it, and as its public bundle carries it."""
    listed = client.get("/api/audit/checkpoints?page_size=1", headers=bearer(community.tokens["alice"])).get_json()
    bundle = client.get("/api/audit/bundle?public=true", headers=bearer(community.tokens["alice"])).get_json()
    return as_seen(listed["items"][0]), as_seen(bundle["checkpoints"][-1])


def test_a_community_learns_nothing_of_how_many_instances_another_has(
    client: Any, community: Community, other_community: Community, instance: str, deployed: Engine,
) -> None:
    """The other community goes from none to seven instances between two checkpoints: what the first sees
    of each is the same but for what differs between any two checkpoints."""
    deployed.checkpoint("audit")
    before = newest_as_seen(client, community)
    for _ in range(7):
        deployed.execute(StartInstance("consultation"), other_community["chair"])
    deployed.checkpoint("audit")
    after = newest_as_seen(client, community)
    assert after == before
    assert before[0]["heads"] and not before[1]["heads"]  # the bundle proved the head in the checkpoint before


def test_the_blinded_path_hides_whether_another_community_is_empty(
    client: Any, community: Community, other_community: Community, instance: str, deployed: Engine,
) -> None:
    """Next to the empty community's leaf, the path holds neither its bare leaf (n = 0, the empty root)
    nor the same sibling twice: each checkpoint's nonces are its own."""
    paths = []
    for _ in range(2):
        deployed.checkpoint("audit")
        listed = client.get("/api/audit/checkpoints?page_size=1", headers=bearer(community.tokens["alice"])).get_json()
        paths.append(listed["items"][0]["community"]["path"])
    bare = merkle.leaf_hash(["community", other_community.id, 0, merkle.EMPTY_ROOT])
    assert bare not in paths[0] + paths[1]
    assert not set(paths[0]) & set(paths[1])


def test_a_community_without_instances_still_has_its_proof(client: Any, community: Community, other_community: Community,
                                                          instance: str) -> None:
    listed = client.get("/api/audit/checkpoints", headers=bearer(other_community.tokens["alice"])).get_json()
    newest = listed["items"][0]
    assert newest["heads"] == [] and newest["community"]["size"] == 0 and newest["community"]["root"] == merkle.EMPTY_ROOT
    bundle = client.get("/api/audit/bundle?public=true", headers=bearer(other_community.tokens["alice"])).get_json()
    assert verify(bundle).ok


def sign_in_format_1(deployed: Engine) -> None:
    """A checkpoint as the engine signed them before migration 0005: one tree over every head, its size signed."""
    with UnitOfWork(deployed.db, deployed.clock) as uow:
        heads = checkpoints.current_heads(uow.session)
        row = Checkpoint(id=1, format=1, at=uow.now, reason="periodic", heads=heads, root=merkle.root([merkle.leaf_hash(h) for h in heads]),
                         previous=GENESIS, key_id=deployed.signer.key_id, signature="")
        row.signature = deployed.signer.sign(canonical_json(checkpoints.statement(checkpoints.as_dict(row))).encode())
        uow.session.add(row)
        uow.commit()


def test_a_checkpoint_of_format_1_keeps_its_size_and_chains_into_format_2(
    client: Any, community: Community, other_community: Community, deployed: Engine,
) -> None:
    """Its size is in what it signed (and was published with it); the first format 2 checkpoint follows it."""
    mine = deployed.execute(StartInstance("consultation"), community["chair"]).id
    deployed.execute(StartInstance("consultation"), other_community["chair"])
    sign_in_format_1(deployed)
    deployed.checkpoint("audit")
    listed = client.get("/api/audit/checkpoints", headers=bearer(community.tokens["alice"])).get_json()["items"]
    assert [(i["format"], i.get("size")) for i in listed] == [(checkpoints.FORMAT_V2, None), (checkpoints.FORMAT_V1, 2)]
    assert [p["head"][1] for i in listed for p in i["heads"]] == [mine, mine]  # proven in each tree
    bundle = client.get("/api/audit/bundle?public=true", headers=bearer(community.tokens["alice"])).get_json()
    verdict = verify(bundle, trusted_keys={deployed.signer.key_id: deployed.signer.public_pem}, known_checkpoints=listed)
    assert verdict.ok and verdict.counts["checkpoints"] == 2, verdict.problems


def test_the_public_key_needs_no_token_and_the_rest_does(client: Any, deployed: Engine) -> None:
    assert client.get("/api/audit/public-key").get_json() == {"key_id": deployed.signer.key_id, "public_pem": deployed.signer.public_pem}
    for path in ("/api/audit/bundle?public=true", "/api/audit/checkpoints"):
        refused(client.get(path), 401, "unauthenticated")


def test_verify_finds_a_stored_record_changed_behind_the_engine(client: Any, community: Community, instance: str, deployed: Engine) -> None:
    with deployed.db.session() as session, session.begin():
        session.execute(update(Opinion).where(Opinion.text == "By the gate.").values(text="Nowhere."))
    verdict = client.post("/api/audit/verify", json={"instance": instance}, headers=bearer(community.tokens["auditor"])).get_json()
    assert not verdict["ok"]
    assert verdict["first_problem"]["check"] == "records" and "fingerprint differs" in verdict["first_problem"]["message"]
