"""Audit bundles carry a decided encrypted vote's board, bound by the history (its vote record's Merkle root and
result), and ``yishi verify-bundle`` runs the encrypted board's verification on it: every altered ciphertext, proof,
factor or result is rejected naming what and where; a vote whose trustees are still decrypting is said so, and the
bundle still verifies.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.audit import verify_bundle
from engine.audit.offline import verify
from engine.bootstrap import Engine
from engine.voting.encryption import encoding
from engine.voting.encryption.group import Scalar, base_mul
from tests import encrypted_elections as ee
from tests.fixtures import bearer
from tests.helpers import Community

CHOICES = {"alice": "yes", "bob": "no", "carol": "yes", "chair": "abstain"}


def bundle_of(client: Any, community: Community, instance_id: str, public: bool = False) -> dict[str, Any]:
    answer = client.get(f"/api/audit/bundle?instance={instance_id}&public={'true' if public else 'false'}",
                        headers=bearer(community.tokens["auditor" if not public else "alice"]))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return json.loads(answer.get_data(as_text=True))


def board_in(bundle: dict[str, Any]) -> dict[str, Any]:
    (entry,) = bundle["encrypted_boards"]
    return entry["board"]


def problems(bundle: dict[str, Any]) -> list[verify.Problem]:
    return verify.verify(bundle).problems


@pytest.mark.parametrize("public", [False, True])
def test_a_decided_encrypted_votes_bundle_carries_its_board_and_verifies(
        client: Any, deployed: Engine, community: Community, public: bool, tmp_path: Path) -> None:
    instance_id, vote_id = ee.closed_vote(deployed, community, CHOICES)
    bundle = bundle_of(client, community, instance_id, public)
    board = board_in(bundle)
    published = client.get(f"/api/votes/{vote_id}/encrypted-board", headers=bearer(community.tokens["alice"])).get_json()
    assert board == published  # the very document the vote publishes
    assert bundle["boards"] == []  # no plaintext board for it
    verdict = verify.verify(bundle)
    assert verdict.ok, verdict.problems
    assert verdict.counts["encrypted recounts"] == 1 and verdict.notes == []
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    ran = CliRunner().invoke(verify_bundle, [str(path)])
    assert ran.exit_code == 0, ran.output
    assert "1 encrypted recounts" in ran.output


def _point() -> str:
    return encoding.hx(base_mul(Scalar(7)))


def _ciphertext(board: dict[str, Any]) -> None:
    board["ballots"][0]["ballot"]["ciphertexts"][0]["alpha"] = _point()


def _proof(board: dict[str, Any]) -> None:
    proof = board["ballots"][1]["ballot"]["overall_proof"][0]
    proof["s"] = encoding.hx(encoding.scalar(proof["s"]) + Scalar(1))


def _factor(board: dict[str, Any]) -> None:
    board["decryptions"][0]["factors"][0] = _point()


def _result(board: dict[str, Any]) -> None:
    board["result"]["outcome"] = "rejected" if board["result"]["outcome"] != "rejected" else "passed"


def _tally(board: dict[str, Any]) -> None:
    board["tally"]["counts"][0] += 1


def _election(board: dict[str, Any]) -> None:
    board["election"]["vote"] = "another-vote"


def _dropped_ballot(board: dict[str, Any]) -> None:
    del board["ballots"][2]


TAMPERINGS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "ciphertext": (_ciphertext, "ballot "),
    "proof": (_proof, "ballot "),
    "factor": (_factor, "decryption: trustee 1"),
    "result": (_result, "the board's result is not the one the history bound"),
    "counts": (_tally, "the decrypted counts are"),
    "election": (_election, "the board's election is for vote another-vote"),
    "dropped ballot": (_dropped_ballot, "the root over the listed ballots differs"),
}


@pytest.mark.parametrize("public", [False, True])
def test_every_tampering_with_the_encrypted_board_is_named(
        client: Any, deployed: Engine, community: Community, public: bool) -> None:
    instance_id, vote_id = ee.closed_vote(deployed, community, CHOICES)
    bundle = bundle_of(client, community, instance_id, public)
    tracker = board_in(bundle)["ballots"][0]["tracker"]
    for what, (tamper, expected) in TAMPERINGS.items():
        altered = copy.deepcopy(bundle)
        tamper(board_in(altered))
        found = problems(altered)
        assert found, what
        assert all(p.check == "recount" and p.instance == instance_id and p.record == f"vote {vote_id}" for p in found), (what, found)
        assert any(expected in p.message for p in found), (what, [p.message for p in found])
        assert all(p.message.startswith(f"vote {vote_id}, closed by event ") for p in found), (what, found)
    altered = copy.deepcopy(bundle)
    _ciphertext(board_in(altered))
    assert any(tracker[:12] in p.message for p in problems(altered))  # which ballot


def test_a_missing_board_and_an_altered_vote_record_are_caught(client: Any, deployed: Engine, community: Community) -> None:
    instance_id, vote_id = ee.closed_vote(deployed, community, CHOICES)
    bundle = bundle_of(client, community, instance_id)
    without = {**bundle, "encrypted_boards": []}
    assert [p.message for p in problems(without)] == [
        f"vote {vote_id}, closed by event {p.seq} of instance {instance_id}: the bundle has no encrypted board for it"
        for p in problems(without)]
    assert len(problems(without)) == 1
    moved = copy.deepcopy(bundle)
    (record,) = [r for r in moved["records"] if r["kind"] == "vote"]
    record["public"]["result"]["outcome"] = "rejected" if record["public"]["result"]["outcome"] != "rejected" else "passed"
    checks = {p.check for p in problems(moved)}
    assert "records" in checks  # the record no longer matches the history's binding
    replaced = copy.deepcopy(bundle)
    replaced["ballot_boxes"][0]["ballots"] += 1
    assert any("the board counts 4 ballots, the ballot box holds 5" in p.message for p in problems(replaced))


def test_a_vote_still_decrypting_is_said_so_and_the_bundle_verifies(
        client: Any, deployed: Engine, community: Community, tmp_path: Path) -> None:
    instance_id, vote_id = ee.closed_vote(deployed, community, CHOICES, decrypted=False)
    bundle = bundle_of(client, community, instance_id)
    assert bundle["encrypted_boards"] == []
    verdict = verify.verify(bundle)
    assert verdict.ok, verdict.problems
    assert verdict.counts["encrypted votes still decrypting"] == 1
    assert [n for n in verdict.notes if vote_id in n and "still decrypting" in n]
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    ran = CliRunner().invoke(verify_bundle, [str(path)])
    assert ran.exit_code == 0 and "NOTE vote " in ran.output and "still decrypting" in ran.output, ran.output
    answer = client.post("/api/audit/verify-bundle", headers=bearer(community.tokens["auditor"]), json=bundle)
    assert answer.status_code == 200 and answer.get_json()["ok"] is True
    assert any("still decrypting" in n for n in answer.get_json()["notes"])
    forged = copy.deepcopy(bundle)  # a board slipped in before the trustees decrypted: the record says otherwise
    decided_elsewhere = bundle_of(client, community, ee.closed_vote(deployed, community, CHOICES)[0])
    forged["encrypted_boards"] = [{"vote_id": vote_id, "board": board_in(decided_elsewhere)}]
    assert any("yet its record says it is decrypting" in p.message for p in problems(forged))


def test_a_vote_closed_before_its_key_was_made_has_an_empty_board_that_verifies(
        client: Any, deployed: Engine, community: Community) -> None:
    instance_id, vote_id = ee.open_encrypted_vote(deployed, community)
    ee.close(deployed, community, instance_id)  # the trustees never dealt: decided at once, with no ballot
    bundle = bundle_of(client, community, instance_id)
    board = board_in(bundle)
    assert board["election"] is None and board["ballots"] == []
    verdict = verify.verify(bundle)
    assert verdict.ok, verdict.problems
    stuffed = copy.deepcopy(bundle)
    decided = board_in(bundle_of(client, community, ee.closed_vote(deployed, community, CHOICES)[0]))
    board_in(stuffed)["ballots"] = decided["ballots"]
    assert any("the board has no election key, yet it lists ballots" in p.message for p in problems(stuffed))
