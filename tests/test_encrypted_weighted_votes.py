"""An owners' encrypted vote end to end through the API (docs/ballot-encryption.md §7, §13): floor areas such as
"86.35" and "120.5" m², two co-owners of one flat each voting with their own area, the Civil Code art. 278 preset's
dual majority (owners and area); trustees make the key and decrypt through ``yishi trustee``; each ballot is weighed
under encryption by its owner's area in 0.01 m². The published result equals the plaintext count of the same choices
with the same areas key for key, and ``yishi tally --verify`` recounts it from the board. An area with more than two
decimals cannot be counted in 0.01 m²: such an encrypted vote refuses to open (the same vote in clear opens), and
nothing is written. In a households' vote a household has one credential, whoever of it registers first.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cli.audit import tally as tally_command
from engine.bootstrap import Engine
from engine.kernel.commands import CompleteTask
from engine.kernel.models import Instance
from engine.voting.counting.board import electorate_summary, tally_config
from engine.voting.counting.tally import tally
from engine.voting.encryption import ballots as eb
from engine.voting.encryption import encoding
from engine.voting.encryption.group import Scalar, base_mul, random_scalar
from engine.voting.models import Ceremony, Vote
from tests.builders import add_member, identity_token, ready, start_vote, VOTE_CONFIG
from tests.device_clients import TRUSTEES, keyed_vote, ok, trustee_run
from tests.fixtures import bearer
from tests.helpers import Community

OWNERS = {  # name: (household, area in m², choice); wang and li co-own flat 1-101, each with their own share
    "wang": ("1-101", "86.35", "yes"), "li": ("1-101", "120.5", "no"), "zhao": ("1-102", "45", "yes"),
    "qian": ("2-201", "200.01", "no"), "sun": ("2-202", "98.7", "yes"), "zhou": ("3-301", "63.2", "yes"),
    "wu": ("3-302", "75.05", None),  # does not vote
}
ART_278 = {"electorate": "owners", "rule": {"preset": "civil_code_278"}, "title": "Repaint the facade",
           "question": "Shall the facade be repainted from the maintenance fund?"}


def add_owners(deployed: Engine, community: Community, owners: dict[str, tuple[str, str, Any]]) -> None:
    """Owners in the register with their households and areas, each with an API token (their device's)."""
    for name, (household, area, _) in owners.items():
        actor = add_member(deployed, community, name, ["owner"], household=household, area=area)
        community.actors[name] = actor
        community.tokens[name] = identity_token(deployed, community, actor)


def post(client: Any, community: Community, name: str, path: str, body: Any) -> Any:
    return client.post(path, headers=bearer(community.tokens[name]), json=body)


def cast(client: Any, community: Community, vote_id: str, election: eb.Election, name: str, choice: Any,
         secret: Scalar | None = None) -> Scalar:
    """Register a credential (unless ``secret`` is one already registered) and cast an encrypted ballot as ``name``."""
    if secret is None:
        secret = random_scalar()
        registered = post(client, community, name, f"/api/votes/{vote_id}/credentials",
                          {"credential": encoding.hx(base_mul(secret))})
        assert registered.status_code == 201, registered.get_json()
    ballot = eb.encrypt_ballot(election, secret, choice)[0].to_json()
    answer = post(client, community, name, f"/api/votes/{vote_id}/encrypted-ballots", {"ballot": ballot})
    assert answer.status_code == 201, answer.get_json()
    return secret


def close_and_decrypt(client: Any, deployed: Engine, community: Community, home: Path, instance_id: str,
                      vote_id: str, trustees: tuple[str, ...] = ("chair", "auditor")) -> dict[str, Any]:
    deployed.execute(CompleteTask(ready(deployed, instance_id)["voting"], {"reason": "The owners have voted."}),
                     community["chair"])
    for name in trustees:
        ok(trustee_run(client, community, home, name, "decrypt", vote_id))
    return client.get(f"/api/votes/{vote_id}/result", headers=bearer(community.tokens["chair"])).get_json()


def plaintext_count(deployed: Engine, vote_id: str, ballots: list[dict[str, Any]]) -> dict[str, Any]:
    with deployed.read() as session:
        vote = session.get(Vote, vote_id)
        return tally(ballots, tally_config(vote), electorate_summary(vote))


def verify_offline(board: dict[str, Any], path: Path) -> Any:
    path.write_text(json.dumps(board, ensure_ascii=False), encoding="utf-8")
    return CliRunner().invoke(tally_command, [str(path), "--verify"])


def test_an_owners_encrypted_vote_has_the_plaintext_dual_majority(
        client: Any, deployed: Engine, community: Community, tmp_path: Path) -> None:
    add_owners(deployed, community, OWNERS)
    instance_id, vote_id = keyed_vote(client, deployed, community, tmp_path, **ART_278)
    chair = community.tokens["chair"]
    election = eb.Election.from_json(client.get(f"/api/votes/{vote_id}/ceremony", headers=bearer(chair)).get_json()["election"])
    voting = {name: choice for name, (_, _, choice) in OWNERS.items() if choice is not None}
    secrets = {name: cast(client, community, vote_id, election, name, "no" if name == "zhou" else choice)
               for name, choice in voting.items()}
    cast(client, community, vote_id, election, "zhou", voting["zhou"], secrets["zhou"])  # zhou changes to yes
    resident = post(client, community, "alice", f"/api/votes/{vote_id}/credentials",
                    {"credential": encoding.hx(base_mul(random_scalar()))})
    assert resident.status_code == 403  # not an owner: not in this vote's electorate

    result = close_and_decrypt(client, deployed, community, tmp_path, instance_id, vote_id)
    with deployed.read() as session:
        tallied = session.get(Ceremony, vote_id).tally
    assert tallied["bounds"] == [6, 6, 6] + [61376] * 3  # 6 ballots; 613.76 m² in 0.01 m²
    expected = plaintext_count(deployed, vote_id, [{"choice": c, "weight": OWNERS[n][1]} for n, c in voting.items()])
    assert {k: v for k, v in result.items() if k not in ("secrecy", "decryption")} == expected
    # yes: 4 of 6 owners (more than half) but 293.25 of 613.76 m² (less than half): the dual majority fails by area
    assert result["outcome"] == "rejected" and result["threshold"][0]["checks"][0]["met"] is True
    assert result["threshold"][0]["checks"][1]["part"]["fraction"] == "1173/4"
    assert result["explanation"][-1] == "Outcome: rejected — the majority by m² was not reached."
    assert result["decryption"]["counts"] == [4, 2, 0, 29325, 32051, 0] and result["decryption"]["trustees"] == [1, 3]
    with deployed.read() as session:
        assert session.get(Instance, instance_id).data["vote_result"]["outcome"] == "rejected"

    board = client.get(f"/api/votes/{vote_id}/encrypted-board", headers=bearer(chair)).get_json()
    assert sorted(b["weight"] for b in board["ballots"] if not b["replaced"]) == sorted(
        OWNERS[n][1] for n in voting)
    verified = verify_offline(board, tmp_path / "board.json")
    assert verified.exit_code == 0 and "verified" in verified.output, verified.output
    reweighed = copy.deepcopy(board)  # a heavier owner's ballot claimed lighter: the weighted tally no longer adds up
    heaviest = max((b for b in reweighed["ballots"] if not b["replaced"]), key=lambda b: float(b["weight"]))
    heaviest["weight"] = "45"
    failed = verify_offline(reweighed, tmp_path / "reweighed.json")
    assert failed.exit_code == 1 and "published tally is not the sum" in failed.output, failed.output


def test_an_owners_encrypted_approval_vote_ranked_by_area(
        client: Any, deployed: Engine, community: Community, tmp_path: Path) -> None:
    """Owners approve projects; the rule ranks options by area: the encrypted result is the plaintext one."""
    add_owners(deployed, community, OWNERS)
    options = [{"id": "lift", "label": "Lift"}, {"id": "garden", "label": "Garden"}, {"id": "bikes", "label": "Bike shed"}]
    rule = {"quorum": {"share": "2/3", "basis": "both"}, "rank_by": "weight", "ties": "lot"}
    instance_id, vote_id = keyed_vote(client, deployed, community, tmp_path, **{
        **ART_278, "method": "approval", "options": options, "rule": rule, "question": "Which projects?"})
    election = eb.Election.from_json(client.get(f"/api/votes/{vote_id}/ceremony",
                                                headers=bearer(community.tokens["chair"])).get_json()["election"])
    choices = {"wang": ["lift", "garden"], "li": ["garden"], "zhao": ["lift", "garden", "bikes"], "qian": ["lift"],
               "sun": [], "zhou": ["bikes", "garden"]}
    for name, choice in choices.items():
        cast(client, community, vote_id, election, name, choice)
    result = close_and_decrypt(client, deployed, community, tmp_path, instance_id, vote_id, ("clerk", "auditor"))
    expected = plaintext_count(deployed, vote_id, [{"choice": c, "weight": OWNERS[n][1]} for n, c in choices.items()])
    assert {k: v for k, v in result.items() if k not in ("secrecy", "decryption")} == expected
    # by heads garden leads (4 owners); by area lift does (331.36 m² against 315.05)
    assert result["counts"]["options"]["garden"]["heads"] == 4 and result["winner"] == "lift"
    assert result["counts"]["abstentions"] == {"heads": 1, "weight": {"fraction": "987/10", "decimal": "98.7"}}
    board = client.get(f"/api/votes/{vote_id}/encrypted-board", headers=bearer(community.tokens["chair"])).get_json()
    assert verify_offline(board, tmp_path / "board.json").exit_code == 0


@pytest.mark.parametrize("area", ["86.355", "0.0001", "120.5001"])
def test_an_area_with_more_than_two_decimals_is_refused_when_an_encrypted_vote_opens(
        client: Any, deployed: Engine, community: Community, area: str) -> None:
    add_owners(deployed, community, {"wang": ("1-101", "86.35", None), "li": ("1-101", area, None)})
    trustees = [community[name].member_id for name in TRUSTEES]
    instance_id = start_vote(deployed, community)
    task_id = ready(deployed, instance_id)["configure_vote"]
    config = {**VOTE_CONFIG, **ART_278, "encryption": {"trustees": trustees, "threshold": 2}}
    refused = client.post(f"/api/tasks/{task_id}/complete", headers=bearer(community.tokens["chair"]),
                          json={"data": {"vote": config}})
    assert refused.status_code == 422, refused.get_json()
    error = refused.get_json()["error"]
    assert error["details"]["errors"] == [{"field": "vote.electorate", "message": "an area with more than two decimals"}]
    assert f"li ({area} m²)" in error["message"] and "wang" not in error["message"]
    with deployed.read() as session:
        assert session.scalar(select(func.count()).select_from(Vote)) == 0
        assert session.scalar(select(func.count()).select_from(Ceremony)) == 0
    plain = {**config}
    del plain["encryption"]
    opened = client.post(f"/api/tasks/{task_id}/complete", headers=bearer(community.tokens["chair"]),
                         json={"data": {"vote": plain}})
    assert opened.status_code == 200, opened.get_json()  # counted in clear, the exact area is no problem


def test_in_an_encrypted_households_vote_a_household_has_one_credential(
        client: Any, deployed: Engine, community: Community, tmp_path: Path) -> None:
    for name in ("mei", "lan"):
        actor = add_member(deployed, community, name, ["resident"], household="5-501")
        community.actors[name], community.tokens[name] = actor, identity_token(deployed, community, actor)
    instance_id, vote_id = keyed_vote(client, deployed, community, tmp_path, electorate="households")
    election = eb.Election.from_json(client.get(f"/api/votes/{vote_id}/ceremony",
                                                headers=bearer(community.tokens["chair"])).get_json()["election"])
    cast(client, community, vote_id, election, "mei", "yes")
    second = post(client, community, "lan", f"/api/votes/{vote_id}/credentials",
                  {"credential": encoding.hx(base_mul(random_scalar()))})
    assert second.status_code == 409 and "household" in second.get_json()["error"]["message"]
    result = close_and_decrypt(client, deployed, community, tmp_path, instance_id, vote_id)
    assert result["counts"]["cast"]["heads"] == 1 and result["decryption"]["counts"] == [1, 0, 0]
    assert result["electorate"]["heads"] == 1  # only 5-501 has a household among the residents
