"""An encrypted approval vote through the API (docs/ballot-encryption.md §3, §6, §13): the trustees make the key and
decrypt through ``yishi trustee`` (tests/device_clients.py), residents cast approval ballots made with the reference
encryptor — some options, every option, none (an abstention, encrypted in the ``abstain`` slot) — and dishonest
booths' ballots are refused: abstaining while approving an option, every option and abstain, a 2 in a slot, a
ballot without its ``abstain`` slot. The result equals the plaintext count of the same choices key for key (winner,
lot, quorum, threshold, abstentions), and ``yishi tally --verify`` recounts it from the board.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from cli.audit import tally as tally_command
from engine.bootstrap import Engine
from engine.kernel.commands import CompleteTask
from engine.kernel.models import Instance
from engine.voting.counting.board import electorate_summary, tally_config
from engine.voting.counting.tally import tally
from engine.voting.encryption import ballots as eb
from engine.voting.encryption import encoding
from engine.voting.encryption.group import Scalar, base_mul, random_scalar
from engine.voting.models import Vote
from tests.builders import ready
from tests.device_clients import keyed_vote, ok, trustee_run
from tests.dishonest_booth import cheat
from tests.fixtures import bearer
from tests.helpers import Community

OPTIONS = [{"id": "park", "label": "Pocket park"}, {"id": "gym", "label": "Outdoor gym"},
           {"id": "library", "label": "Book corner"}]
APPROVAL = {"method": "approval", "options": OPTIONS, "question": "Which projects do you approve?",
            "rule": {"quorum": {"share": "1/2"}, "threshold": {"kind": "simple_majority", "abstentions_in_base": True},
                     "ties": "lot"}}
CHOICES = {"alice": ["park", "gym"], "bob": [], "carol": ["gym", "library"], "chair": ["park", "gym", "library"]}


def post(client: Any, community: Community, name: str, path: str, body: Any) -> Any:
    return client.post(path, headers=bearer(community.tokens[name]), json=body)


def register(client: Any, community: Community, vote_id: str, name: str) -> Scalar:
    secret = random_scalar()
    answer = post(client, community, name, f"/api/votes/{vote_id}/credentials",
                  {"credential": encoding.hx(base_mul(secret))})
    assert answer.status_code == 201, answer.get_json()
    return secret


def test_an_encrypted_approval_vote_counts_as_the_plaintext_approval_count(
        client: Any, deployed: Engine, community: Community, tmp_path: Path) -> None:
    instance_id, vote_id = keyed_vote(client, deployed, community, tmp_path, **APPROVAL)
    chair = community.tokens["chair"]
    election = eb.Election.from_json(client.get(f"/api/votes/{vote_id}/ceremony", headers=bearer(chair)).get_json()["election"])
    assert (election.method, election.slots, election.min, election.max) == (
        "approval", ("park", "gym", "library", "abstain"), 1, 3)
    secrets = {name: register(client, community, vote_id, name) for name in CHOICES}

    cheats = {  # slots park, gym, library, abstain; the overall sum is park + gym + library + 3·abstain ∈ [1..3]
        "abstain and approve an option": (cheat(election, secrets["alice"], [1, 0, 0, 1], [1, 0, 0, 1], 3),
                                          "approves 1 to 3 options or abstains"),
        "every option and abstain": (cheat(election, secrets["alice"], [1, 1, 1, 1], [1, 1, 1, 1], 3),
                                     "approves 1 to 3 options or abstains"),
        "nothing, without abstaining": (cheat(election, secrets["alice"], [0, 0, 0, 0], [0, 0, 0, 0], 1),
                                        "approves 1 to 3 options or abstains"),
        "a 2 in a slot": (cheat(election, secrets["alice"], [2, 0, 0, 0], [1, 0, 0, 0], 2), "'park' is 0 or 1"),
        "a 2 in abstain paid for by a -1": (cheat(election, secrets["alice"], [1, 0, -1, 2], [1, 0, 0, 1], 3),
                                            "'library' is 0 or 1"),
    }
    for name, (ballot, reason) in cheats.items():
        refused = post(client, community, "alice", f"/api/votes/{vote_id}/encrypted-ballots",
                       {"ballot": ballot.to_json()})
        assert refused.status_code == 422, (name, refused.get_json())
        assert reason in refused.get_json()["error"]["message"], (name, refused.get_json())
    old_format = eb.encrypt_ballot(election, secrets["alice"], ["park"])[0].to_json()
    old_format["ciphertexts"], old_format["proofs"] = old_format["ciphertexts"][:3], old_format["proofs"][:3]
    refused = post(client, community, "alice", f"/api/votes/{vote_id}/encrypted-ballots", {"ballot": old_format})
    assert refused.status_code == 422 and "3 ciphertexts for 4 slots" in refused.get_json()["error"]["message"]
    assert client.get(f"/api/votes/{vote_id}/turnout", headers=bearer(chair)).get_json()["cast"] == 0  # nothing stored

    for name, choice in CHOICES.items():
        ballot, randomness = eb.encrypt_ballot(election, secrets[name], choice)
        assert eb.audit(election, ballot, randomness) == choice
        answer = post(client, community, name, f"/api/votes/{vote_id}/encrypted-ballots", {"ballot": ballot.to_json()})
        assert answer.status_code == 201, answer.get_json()
    deployed.execute(CompleteTask(ready(deployed, instance_id)["voting"], {"reason": "Everyone has voted."}),
                     community["chair"])
    assert "decrypting" in ok(trustee_run(client, community, tmp_path, "clerk", "decrypt", vote_id))
    assert "decided" in ok(trustee_run(client, community, tmp_path, "auditor", "decrypt", vote_id))

    with deployed.read() as session:
        vote = session.get(Vote, vote_id)
        expected = tally([{"choice": c} for c in CHOICES.values()], tally_config(vote), electorate_summary(vote))
        assert session.get(Instance, instance_id).data["vote_result"]["winner"] == expected["winner"]
    result = client.get(f"/api/votes/{vote_id}/result", headers=bearer(chair)).get_json()
    assert {k: v for k, v in result.items() if k not in ("secrecy", "decryption")} == expected
    assert result["secrecy"] == "encrypted"
    assert result["decryption"]["counts"] == [2, 3, 2, 1] and result["decryption"]["trustees"] == [2, 3]
    assert result["counts"]["abstentions"]["heads"] == 1 and result["counts"]["voting"]["heads"] == 3
    assert (result["winner"], result["outcome"]) == ("gym", "passed")  # 3 of 4 ballots cast, abstention included

    board = client.get(f"/api/votes/{vote_id}/encrypted-board", headers=bearer(chair)).get_json()
    path = tmp_path / "board.json"
    path.write_text(json.dumps(board), encoding="utf-8")
    verified = CliRunner().invoke(tally_command, [str(path), "--verify"])
    assert verified.exit_code == 0 and "verified" in verified.output, verified.output
    board["result"]["winner"] = "park"
    path.write_text(json.dumps(board), encoding="utf-8")
    assert CliRunner().invoke(tally_command, [str(path), "--verify"]).exit_code == 1


def test_an_encrypted_approval_vote_tied_at_the_top_is_settled_by_the_same_lot(
        client: Any, deployed: Engine, community: Community, tmp_path: Path) -> None:
    """Two options level at the top: the lot drawn from the decrypted sums is the plaintext count's lot."""
    instance_id, vote_id = keyed_vote(client, deployed, community, tmp_path, **{**APPROVAL, "rule": {"ties": "lot"}})
    election = eb.Election.from_json(
        client.get(f"/api/votes/{vote_id}/ceremony", headers=bearer(community.tokens["chair"])).get_json()["election"])
    choices = {"alice": ["park"], "bob": ["library"], "carol": [], "chair": ["park", "library"]}
    for name, choice in choices.items():
        secret = register(client, community, vote_id, name)
        ballot = eb.encrypt_ballot(election, secret, choice)[0].to_json()
        assert post(client, community, name, f"/api/votes/{vote_id}/encrypted-ballots", {"ballot": ballot}).status_code == 201
    deployed.execute(CompleteTask(ready(deployed, instance_id)["voting"], {"reason": "Everyone has voted."}),
                     community["chair"])
    for name in ("chair", "clerk"):
        ok(trustee_run(client, community, tmp_path, name, "decrypt", vote_id))
    with deployed.read() as session:
        vote = session.get(Vote, vote_id)
        expected = tally([{"choice": c} for c in choices.values()], tally_config(vote), electorate_summary(vote))
    result = client.get(f"/api/votes/{vote_id}/result", headers=bearer(community.tokens["chair"])).get_json()
    assert {k: v for k, v in result.items() if k not in ("secrecy", "decryption")} == expected
    assert result["tie_broken_by_lot"] is True and result["ties"][0]["tied"] == ["park", "library"]
