"""Benaloh's cast-or-audit on the server (docs/ballot-encryption.md §6): a voter audits a ballot by sending its tracker
only; that tracker is never cast (refused, and never counted), a tracker already cast cannot be audited, the board
lists the audited trackers and ``yishi tally --verify`` refuses a board that counts one; the audit file the booth
saves is checked offline by ``yishi tally --audit``; a tracker is found on the board (counted, replaced, audited, not
found); an audit and a cast of the same ballot racing each other: exactly one wins. SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli.audit import tally as tally_command
from engine.audit.offline import ballot_audit, encrypted_board
from engine.bootstrap import Engine
from engine.kernel.commands import CompleteTask
from engine.kernel.errors import Conflict
from engine.voting import ceremony
from engine.voting.commands import AuditBallot, CastEncryptedBallot
from engine.voting.encryption import ballots as eb
from engine.voting.models import AuditedBallot, EncryptedBallot
from tests.builders import events_of, open_vote, ready
from tests.encrypted_ceremony import cast, decrypt, encrypt, encrypted_vote, register
from tests.fixtures import bearer
from tests.helpers import Community


def audit(client: Any, token: str, vote_id: str, tracker: Any) -> Any:
    return client.post(f"/api/votes/{vote_id}/audited-ballots", headers=bearer(token), json={"tracker": tracker})


def audit_file(vote: Any, ballot: eb.Ballot, randomness: list[Any]) -> dict[str, Any]:
    return {"format": ballot_audit.FORMAT, "election": vote.election.descriptor(), **eb.audit_to_json(ballot, randomness)}


def test_an_audited_ballot_is_never_cast_and_the_board_lists_it(
        client: Any, deployed: Engine, community: Community, tmp_path: Path) -> None:
    vote = encrypted_vote(deployed, community)
    alice, bob = (register(deployed, community, vote, name) for name in ("alice", "bob"))
    token = community.tokens["alice"]
    spoiled, randomness = encrypt(vote, alice, "no")
    tracker = eb.tracker(spoiled)
    answer = audit(client, token, vote.vote_id, tracker)
    assert answer.status_code == 201 and answer.get_json() == {"vote_id": vote.vote_id, "tracker": tracker}
    assert audit(client, token, vote.vote_id, tracker).status_code == 201  # the same again: idempotent
    refused = client.post(f"/api/votes/{vote.vote_id}/encrypted-ballots", headers=bearer(token),
                          json={"ballot": spoiled.to_json()})
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["error"]["message"].startswith("this ballot was audited")

    verdict = ballot_audit.check(audit_file(vote, spoiled, randomness))
    assert (verdict.ok, verdict.choice, verdict.tracker) == (True, "no", tracker)
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(audit_file(vote, spoiled, randomness)), encoding="utf-8")
    said = CliRunner().invoke(tally_command, ["--audit", str(path)])
    assert said.exit_code == 0 and 'this ballot encrypted: "no"' in said.output, said.output

    counted = cast(deployed, community, vote, "alice", encrypt(vote, alice, "yes")[0])  # encrypted afresh
    assert audit(client, token, vote.vote_id, counted).status_code == 409  # cast already: its opening would tell
    first_of_bob = cast(deployed, community, vote, "bob", encrypt(vote, bob, "yes")[0])
    last_of_bob = cast(deployed, community, vote, "bob", encrypt(vote, bob, "no")[0])
    with deployed.read() as session:
        audited_events = [e for e in events_of(session, vote.instance_id) if e.type == "ballot_audited"]
        assert [json.dumps(e.input) for e in audited_events] == [json.dumps({"vote_id": vote.vote_id})]  # once, no tracker
        assert session.scalars(select(AuditedBallot.tracker)).all() == [tracker]

    def status(t: str) -> Any:
        found = client.get(f"/api/votes/{vote.vote_id}/trackers/{t}", headers=bearer(community.tokens["carol"]))
        assert found.status_code == 200, found.get_json()
        return found.get_json()["status"], found.get_json()["decided"]

    assert status(tracker) == ("audited", False)
    assert status(first_of_bob) == ("replaced", False)
    assert status(counted) == ("counted", False)
    assert status("0" * 64) == ("not_found", False)

    deployed.execute(CompleteTask(ready(deployed, vote.instance_id)["voting"], {"reason": "Enough."}), community["chair"])
    decrypt(deployed, community, vote)
    assert status(last_of_bob) == ("counted", True)
    board = client.get(f"/api/votes/{vote.vote_id}/encrypted-board", headers=bearer(community.tokens["chair"])).get_json()
    assert board["audited"] == [tracker]
    assert tracker not in {b["tracker"] for b in board["ballots"]}
    assert board["result"]["decryption"]["counts"] == [1, 1, 0]  # the audited "no" is not among them
    assert encrypted_board.verify(board).ok

    smuggled = copy.deepcopy(board)
    smuggled["audited"] = sorted([tracker, counted])
    verdict = encrypted_board.verify(smuggled)
    assert not verdict.ok and any("was audited" in p and "counted" in p for p in verdict.problems), verdict.problems
    unsorted = {**board, "audited": [tracker, tracker]}
    assert not encrypted_board.verify(unsorted).ok
    board_path = tmp_path / "board.json"
    board_path.write_text(json.dumps(smuggled), encoding="utf-8")
    failed = CliRunner().invoke(tally_command, [str(board_path), "--verify"])
    assert failed.exit_code == 1 and "was audited" in failed.output


def test_my_credential_says_what_the_device_registered(client: Any, deployed: Engine, community: Community) -> None:
    vote = encrypted_vote(deployed, community, keyed=False)
    url = f"/api/votes/{vote.vote_id}/credentials/mine"
    before = client.get(url, headers=bearer(community.tokens["alice"]))
    assert before.status_code == 200 and before.get_json()["credential"] is None
    secret = register(deployed, community, vote, "alice")
    assert client.get(url, headers=bearer(community.tokens["alice"])).get_json()["credential"] == eb.encoding.hx(
        eb.base_mul(secret))
    assert client.get(url, headers=bearer(community.tokens["bob"])).get_json()["credential"] is None  # bob's own
    assert client.get(url, headers=bearer(community.tokens["clerk"])).status_code == 403  # not in the electorate
    _, plain = open_vote(deployed, community)
    assert client.get(f"/api/votes/{plain}/credentials/mine", headers=bearer(community.tokens["alice"])).status_code == 409


def test_an_audit_file_that_lies_is_refused_offline(deployed: Engine, community: Community, tmp_path: Path) -> None:
    vote = encrypted_vote(deployed, community)
    alice = register(deployed, community, vote, "alice")
    ballot, randomness = encrypt(vote, alice, "yes")
    good = audit_file(vote, ballot, randomness)
    other, other_randomness = encrypt(vote, alice, "no")
    descriptor = vote.election.descriptor()
    lies = {
        "another ballot's randomness": {**good, "randomness": eb.audit_to_json(other, other_randomness)["randomness"]},
        "another election": {**good, "election": {**descriptor, "vote": "another-vote"}},
        "a proof altered": {**good, "ballot": {**good["ballot"], "overall_proof": good["ballot"]["proofs"][0]}},
        "a short randomness": {**good, "randomness": good["randomness"][:1]},
        "not hex": {**good, "randomness": ["zz"] * 3},
        "an extra key": {**good, "choice": "no"},
        "not an object": [good],
    }
    for what, document in lies.items():
        verdict = ballot_audit.check(document)
        assert not verdict.ok and verdict.choice is None and verdict.problems, what
    plain = {k: v for k, v in good.items() if k != "format"}  # another client's file: the format key is optional
    assert ballot_audit.check(plain).choice == "yes"
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(lies["another ballot's randomness"]), encoding="utf-8")
    failed = CliRunner().invoke(tally_command, ["--audit", str(path)])
    assert failed.exit_code == 1 and "MISMATCH" in failed.output
    assert CliRunner().invoke(tally_command, []).exit_code == 2  # neither a board nor --audit


def test_who_may_audit_what_and_when(client: Any, deployed: Engine, community: Community,
                                     other_community: Community) -> None:
    keying = encrypted_vote(deployed, community, keyed=False)
    tracker = "ab" * 32
    assert audit(client, community.tokens["alice"], keying.vote_id, tracker).status_code == 409  # no key yet
    vote = encrypted_vote(deployed, community)
    for bad in ("AB" * 32, "ab" * 31, "ab" * 33, "", 7, None, "g" * 64, "ab" * 31 + "a\u0000"):
        answer = audit(client, community.tokens["alice"], vote.vote_id, bad)
        assert answer.status_code in (400, 422), (bad, answer.status_code)
        assert answer.get_json()["error"]["code"] in ("invalid_input", "bad_request"), answer.get_json()
    assert audit(client, other_community.tokens["alice"], vote.vote_id, tracker).status_code == 404
    assert audit(client, community.tokens["alice"], "no-such-vote", tracker).status_code == 404
    assert audit(client, community.tokens["clerk"], vote.vote_id, tracker).status_code == 403  # not in the electorate
    _, plain = open_vote(deployed, community)
    assert audit(client, community.tokens["alice"], plain, tracker).status_code == 409  # not an encrypted vote
    found = client.get(f"/api/votes/{plain}/trackers/{tracker}", headers=bearer(community.tokens["alice"]))
    assert found.status_code == 409
    malformed = client.get(f"/api/votes/{vote.vote_id}/trackers/{'AB' * 32}", headers=bearer(community.tokens["alice"]))
    assert malformed.status_code == 422
    elsewhere = client.get(f"/api/votes/{vote.vote_id}/trackers/{tracker}", headers=bearer(other_community.tokens["alice"]))
    assert elsewhere.status_code == 404
    with deployed.read() as session:
        assert session.scalars(select(AuditedBallot)).all() == []  # every refusal changed nothing

    deployed.execute(CompleteTask(ready(deployed, vote.instance_id)["voting"], {"reason": "Enough."}), community["chair"])
    assert audit(client, community.tokens["alice"], vote.vote_id, tracker).status_code == 409  # closed


@pytest.mark.parametrize("rounds", [3])
def test_an_audit_and_a_cast_of_one_ballot_racing_exactly_one_wins(
        deployed: Engine, community: Community, monkeypatch: pytest.MonkeyPatch, rounds: int) -> None:
    """Both commands pass their checks before either takes the tracker's lock (a barrier makes sure, on PostgreSQL;
    SQLite's units of work take turns): the second to hold it sees the first's row and is refused."""
    vote = encrypted_vote(deployed, community)
    alice = register(deployed, community, vote, "alice")
    concurrent = deployed.db.engine.dialect.name == "postgresql"
    lock = ceremony._lock_tracker
    for _ in range(rounds):
        ballot, _ = encrypt(vote, alice, "yes")
        tracker, gate, outcomes = eb.tracker(ballot), threading.Barrier(2, timeout=20), {}

        def both_checked(uow: Any, vote_id: str, tracker: str) -> None:
            if concurrent:
                gate.wait()
            lock(uow, vote_id, tracker)

        commands = {"audit": AuditBallot(vote.vote_id, tracker), "cast": CastEncryptedBallot(vote.vote_id, ballot.to_json())}

        def run(name: str) -> None:
            try:
                outcomes[name] = deployed.execute_as(community.tokens["alice"], commands[name])
            except Exception as exc:  # noqa: BLE001 — collected: the test says which
                outcomes[name] = exc

        monkeypatch.setattr(ceremony, "_lock_tracker", both_checked)
        threads = [threading.Thread(target=run, args=(name,)) for name in commands]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        monkeypatch.setattr(ceremony, "_lock_tracker", lock)
        assert not any(t.is_alive() for t in threads) and not gate.broken
        refused = [name for name, outcome in outcomes.items() if isinstance(outcome, Exception)]
        assert len(refused) == 1 and isinstance(outcomes[refused[0]], Conflict), outcomes
        with deployed.read() as session:
            cast_rows = session.scalars(select(EncryptedBallot).where(EncryptedBallot.tracker == tracker)).all()
            audited_rows = session.scalars(select(AuditedBallot).where(AuditedBallot.tracker == tracker)).all()
        assert (len(cast_rows), len(audited_rows)) == ((0, 1) if refused == ["cast"] else (1, 0))
    with deployed.read() as session:
        assert session.get(ceremony.Ceremony, vote.vote_id).state == "open"
