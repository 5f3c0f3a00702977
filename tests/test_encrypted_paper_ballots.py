"""Paper ballots in an encrypted vote (docs/ballot-encryption.md §13.1): the teller's client encrypts the paper choice
under a fresh credential and the server registers it for the voter and casts it in one transaction, recording the
teller; the board marks each ballot's channel; ``yishi tally --verify`` checks them like any ballot and holds the
counts by channel against the turnout. One ballot per voter across channels (also when both race, in real threads);
a correction replaces the ballot named by the tracker on the voter's slip, with a reason.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli.audit import tally as tally_command
from engine.audit.offline import verify
from engine.bootstrap import Engine
from engine.kernel.commands import CompleteTask
from engine.kernel.errors import Conflict
from engine.voting import ceremony
from engine.voting.ceremony import Cast
from engine.voting.commands import CastEncryptedBallot, CastEncryptedPaperBallot, CorrectEncryptedPaperBallot
from engine.voting.encryption import ballots as eb
from engine.voting.encryption import encoding
from engine.voting.encryption.group import base_mul, random_scalar
from engine.voting.models import AuditedBallot, EncryptedBallot, Participation, VoterCredential
from tests.builders import ballot_events, ready
from tests.encrypted_ceremony import EncryptedVote, decrypt, encrypt, encrypted_vote, register
from tests.fixtures import bearer
from tests.helpers import Community, at_once, make_community


def paper(vote: EncryptedVote, choice: str) -> dict[str, Any]:
    """What the teller's client sends: a fresh credential and the choice encrypted and signed under it (the secret
    is dropped here, as the client drops it)."""
    secret = random_scalar()
    ballot, _ = encrypt(vote, secret, choice)
    return {"credential": encoding.hx(base_mul(secret)), "ballot": ballot.to_json()}


def enter(client: Any, token: str, vote: EncryptedVote, member_id: int, body: dict[str, Any]) -> Any:
    return client.post(f"/api/votes/{vote.vote_id}/encrypted-paper-ballots", headers=bearer(token),
                       json={"member_id": member_id, **body})


def correct(client: Any, token: str, vote: EncryptedVote, member_id: int, body: dict[str, Any]) -> Any:
    return client.put(f"/api/votes/{vote.vote_id}/encrypted-paper-ballots/{member_id}", headers=bearer(token), json=body)


def error(answer: Any) -> tuple[int, str, list[str]]:
    body = answer.get_json()["error"]
    return answer.status_code, body["message"], [e["field"] for e in body.get("details", {}).get("errors", [])]


def test_paper_ballots_are_entered_encrypted_corrected_counted_and_verified(
        client: Any, deployed: Engine, community: Community, tmp_path: Path) -> None:
    vote = encrypted_vote(deployed, community)
    alice_secret = register(deployed, community, vote, "alice")
    deployed.execute(CastEncryptedBallot(vote.vote_id, encrypt(vote, alice_secret, "yes")[0].to_json()), community["alice"])
    clerk, chair = community.tokens["clerk"], community.tokens["chair"]
    bob = enter(client, clerk, vote, community["bob"].member_id, paper(vote, "no"))
    assert bob.status_code == 201, bob.get_json()
    carol_first = paper(vote, "no")
    first = enter(client, chair, vote, community["carol"].member_id, carol_first)
    assert first.status_code == 201 and first.get_json()["changed"] is False
    again = enter(client, chair, vote, community["carol"].member_id, carol_first)  # the same request, retried
    assert again.status_code == 201 and again.get_json()["tracker"] == first.get_json()["tracker"]

    slip = first.get_json()["tracker"]
    fixed = paper(vote, "yes")
    assert error(correct(client, clerk, vote, community["carol"].member_id, {**fixed, "tracker": slip}))[2] == ["reason"]
    wrong = correct(client, clerk, vote, community["carol"].member_id,
                    {**fixed, "tracker": bob.get_json()["tracker"], "reason": "Misread the slip."})
    assert error(wrong)[:2] == (409, "that tracker is not the one of this voter's latest ballot")
    corrected = correct(client, clerk, vote, community["carol"].member_id, {**fixed, "tracker": slip, "reason": "Misread the slip."})
    assert corrected.status_code == 200 and corrected.get_json()["changed"] is True, corrected.get_json()
    stale = correct(client, clerk, vote, community["carol"].member_id,
                    {**paper(vote, "no"), "tracker": slip, "reason": "Again."})
    assert error(stale)[:2] == (409, "this tracker was replaced by a later correction; enter the tracker of the voter's latest paper slip")
    online = correct(client, clerk, vote, community["alice"].member_id, {**paper(vote, "no"), "tracker": slip, "reason": "No."})
    assert error(online)[:2] == (409, "there is no paper ballot of this voter to correct")

    with deployed.read() as session:
        mine = {p.voter_key: (p.channel, p.teller_id, p.changes) for p in
                session.scalars(select(Participation).where(Participation.vote_id == vote.vote_id))}
        assert mine == {f"m:{community['alice'].member_id}": ("online", None, 0),
                        f"m:{community['bob'].member_id}": ("paper", community["clerk"].member_id, 0),
                        f"m:{community['carol'].member_id}": ("paper", community["clerk"].member_id, 1)}
        credential = session.get(VoterCredential, (vote.vote_id, f"m:{community['carol'].member_id}")).credential
        assert credential == fixed["credential"]  # the corrected paper's credential now stands for carol
        events = [(e.type, e.actor_id, e.input) for e in ballot_events(session, vote.instance_id)]
    assert events[1:] == [
        ("paper_ballot_entered", community["clerk"].member_id, {"vote_id": vote.vote_id, "voter_id": community["bob"].member_id}),
        ("paper_ballot_entered", community["chair"].member_id, {"vote_id": vote.vote_id, "voter_id": community["carol"].member_id}),
        ("paper_ballot_corrected", community["clerk"].member_id,
         {"vote_id": vote.vote_id, "voter_id": community["carol"].member_id, "reason": "Misread the slip."})]
    entries = client.get(f"/api/votes/{vote.vote_id}/paper-ballots", headers=bearer(chair)).get_json()
    assert [(e["type"], e["teller"], e["voter"]) for e in entries] == [
        ("paper_ballot_corrected", "clerk", "carol"), ("paper_ballot_entered", "chair", "carol"), ("paper_ballot_entered", "clerk", "bob")]
    turnout = client.get(f"/api/votes/{vote.vote_id}/turnout", headers=bearer(chair)).get_json()
    assert (turnout["cast"], turnout["by_channel"]) == (3, {"online": 1, "paper": 2})

    deployed.execute(CompleteTask(ready(deployed, vote.instance_id)["voting"], {"reason": "Closed."}), community["chair"])
    decrypt(deployed, community, vote)
    result = client.get(f"/api/votes/{vote.vote_id}/result", headers=bearer(chair)).get_json()
    assert result["decryption"]["counts"] == [2, 1, 0]  # alice yes online, bob no on paper, carol yes corrected
    board = client.get(f"/api/votes/{vote.vote_id}/encrypted-board", headers=bearer(chair)).get_json()
    marks = sorted((b["channel"], b["replaced"]) for b in board["ballots"])
    assert marks == [("online", False), ("paper", False), ("paper", False), ("paper", True)]
    assert {b["tracker"] for b in board["ballots"] if b["replaced"]} == {slip}
    assert board["turnout"] == {"online": 1, "paper": 2}
    path = tmp_path / "board.json"
    path.write_text(json.dumps(board), encoding="utf-8")
    ok = CliRunner().invoke(tally_command, [str(path), "--verify"])
    assert ok.exit_code == 0 and "3 counted: 1 online, 2 paper" in ok.output, ok.output

    bundle = client.get(f"/api/audit/bundle?instance={vote.instance_id}&public=false", headers=bearer(community.tokens["auditor"]))
    assert bundle.status_code == 200
    verdict = verify.verify(json.loads(bundle.get_data(as_text=True)))  # the ballot box: paper events, changes, replaced
    assert verdict.ok, [p.message for p in verdict.problems]

    shifted = copy.deepcopy(board)  # a paper ballot passed off as online: the counts no longer match who took part
    shifted["turnout"] = {"online": 2, "paper": 1}
    path.write_text(json.dumps(shifted), encoding="utf-8")
    failed = CliRunner().invoke(tally_command, [str(path), "--verify"])
    assert failed.exit_code == 1 and "1 ballots cast online are counted, but 2 voters took part online" in failed.output
    odd = copy.deepcopy(board)
    odd["ballots"][0]["channel"] = "fax"
    path.write_text(json.dumps(odd), encoding="utf-8")
    assert "neither online nor paper" in CliRunner().invoke(tally_command, [str(path), "--verify"]).output


def test_one_ballot_per_voter_across_channels(client: Any, deployed: Engine, community: Community) -> None:
    vote = encrypted_vote(deployed, community)
    alice_secret = register(deployed, community, vote, "alice")
    deployed.execute(CastEncryptedBallot(vote.vote_id, encrypt(vote, alice_secret, "yes")[0].to_json()), community["alice"])
    clerk = community.tokens["clerk"]
    online_first = enter(client, clerk, vote, community["alice"].member_id, paper(vote, "no"))
    assert error(online_first)[:2] == (409, "this voter has already voted (online or on paper); correct the paper ballot instead")

    bob_secret = register(deployed, community, vote, "bob")  # registered online, never cast: bob votes on paper
    assert enter(client, clerk, vote, community["bob"].member_id, paper(vote, "no")).status_code == 201
    late = client.post(f"/api/votes/{vote.vote_id}/encrypted-ballots", headers=bearer(community.tokens["bob"]),
                       json={"ballot": encrypt(vote, bob_secret, "yes")[0].to_json()})
    assert error(late)[:2] == (409, "your ballot was entered on paper by a teller; ask a teller to correct it")
    fresh = client.post(f"/api/votes/{vote.vote_id}/credentials", headers=bearer(community.tokens["bob"]),
                        json={"credential": encoding.hx(base_mul(random_scalar()))})
    assert error(fresh)[:2] == (409, "your ballot was entered on paper by a teller; ask a teller to correct it")
    twice = enter(client, clerk, vote, community["bob"].member_id, paper(vote, "yes"))
    assert error(twice)[0] == 409
    with deployed.read() as session:
        channels = sorted(session.scalars(select(EncryptedBallot.channel).where(EncryptedBallot.vote_id == vote.vote_id)))
    assert channels == ["online", "paper"]


def test_who_may_enter_and_what_is_refused(client: Any, deployed: Engine, community: Community) -> None:
    vote = encrypted_vote(deployed, community)
    bob = community["bob"].member_id
    body = paper(vote, "yes")
    assert error(enter(client, community.tokens["alice"], vote, bob, body))[0] == 403  # not a teller
    riverside = make_community(deployed, "riverside")
    assert enter(client, riverside.tokens["chair"], vote, bob, body).status_code == 404

    mismatch = enter(client, community.tokens["clerk"], vote, bob, {**body, "credential": paper(vote, "yes")["credential"]})
    assert error(mismatch)[0] == 422 and error(mismatch)[2] == ["ballot.credential"]
    forged = copy.deepcopy(body)
    forged["ballot"]["ciphertexts"].reverse()
    assert error(enter(client, community.tokens["clerk"], vote, bob, forged))[:3:2] == (422, ["ballot"])
    for garbage in ({"credential": "00" * 32, "ballot": body["ballot"]}, {"credential": body["credential"], "ballot": {"x": 1}},
                    {"credential": "A" * 64, "ballot": body["ballot"]}, {"credential": body["credential"], "ballot": "x" * 100_000}):
        assert enter(client, community.tokens["clerk"], vote, bob, garbage).status_code == 422, garbage
    assert enter(client, community.tokens["clerk"], vote, 2**40, body).status_code == 422
    assert enter(client, community.tokens["clerk"], vote, 999_999, body).status_code == 404

    other = encrypted_vote(deployed, community)  # a ballot made for another vote is not replayed here
    elsewhere = paper(other, "yes")
    assert error(enter(client, community.tokens["clerk"], vote, bob, elsewhere))[:3:2] == (422, ["ballot"])
    assert enter(client, community.tokens["clerk"], other, bob, elsewhere).status_code == 201
    carol = community["carol"].member_id
    assert enter(client, community.tokens["clerk"], vote, carol, body).status_code == 201
    copied = enter(client, community.tokens["clerk"], vote, bob, body)  # carol's ballot, entered again for bob
    assert error(copied)[:2] == (409, "this ballot is on the board already: encrypt the paper ballot again")

    audited = paper(vote, "no")  # a ballot its maker opened (Benaloh) is never cast, on paper either
    with deployed.db.session() as session, session.begin():
        session.add(AuditedBallot(vote_id=vote.vote_id, tracker=eb.tracker(eb.Ballot.from_json(audited["ballot"]))))
    assert error(enter(client, community.tokens["clerk"], vote, bob, audited))[:2] == (
        409, "this ballot was audited: it can never be cast; encrypt your choice again")
    keying = encrypted_vote(deployed, community, keyed=False)
    assert error(enter(client, community.tokens["clerk"], keying, bob, body))[0] == 409
    with deployed.read() as session:
        assert {p.voter_key for p in session.scalars(select(Participation).where(Participation.vote_id == vote.vote_id))} == {f"m:{carol}"}


def test_an_online_and_a_paper_ballot_racing_for_one_voter_exactly_one_wins(
        deployed: Engine, community: Community, monkeypatch: pytest.MonkeyPatch) -> None:
    vote = encrypted_vote(deployed, community)
    secret = register(deployed, community, vote, "alice")
    online = CastEncryptedBallot(vote.vote_id, encrypt(vote, secret, "yes")[0].to_json())
    body = paper(vote, "no")
    on_paper = CastEncryptedPaperBallot(vote.vote_id, community["alice"].member_id, body["credential"], body["ballot"])
    real = ceremony.record_unloaded

    def lingering(*args: Any, **kwargs: Any) -> None:  # both pass their checks before either writes
        time.sleep(0.15)
        real(*args, **kwargs)

    monkeypatch.setattr(ceremony, "record_unloaded", lingering)
    outcomes = at_once([lambda: deployed.execute(online, community["alice"]),
                        lambda: deployed.execute(on_paper, community["clerk"])])
    won = [o for o in outcomes if isinstance(o, Cast)]
    assert len(won) == 1 and all(isinstance(o, Conflict) for o in outcomes if o not in won), outcomes
    with deployed.read() as session:
        (participation,) = session.scalars(select(Participation).where(Participation.vote_id == vote.vote_id))
        (row,) = session.scalars(select(EncryptedBallot).where(EncryptedBallot.vote_id == vote.vote_id))
        registered = session.get(VoterCredential, (vote.vote_id, participation.voter_key)).credential
        assert len(ballot_events(session, vote.instance_id)) == 1
        assert row.tracker == won[0].tracker and row.channel == participation.channel
        assert registered == row.credential  # the loser's credential change was rolled back with it


def test_two_corrections_presenting_one_slip_at_once_exactly_one_wins(
        deployed: Engine, community: Community, monkeypatch: pytest.MonkeyPatch) -> None:
    vote = encrypted_vote(deployed, community)
    first = paper(vote, "no")
    bob = community["bob"].member_id
    slip = deployed.execute(CastEncryptedPaperBallot(vote.vote_id, bob, first["credential"], first["ballot"]), community["clerk"]).tracker
    fixes = [paper(vote, "yes"), paper(vote, "abstain")]
    real = ceremony.record_unloaded

    def lingering(*args: Any, **kwargs: Any) -> None:
        time.sleep(0.15)
        real(*args, **kwargs)

    monkeypatch.setattr(ceremony, "record_unloaded", lingering)
    outcomes = at_once([lambda fix=fix, teller=teller: deployed.execute(CorrectEncryptedPaperBallot(
        vote.vote_id, bob, slip, fix["credential"], fix["ballot"], "Misread."), community[teller])
        for fix, teller in zip(fixes, ("clerk", "chair"))])
    won = [o for o in outcomes if isinstance(o, Cast)]
    assert len(won) == 1, outcomes
    assert all(isinstance(o, Conflict) for o in outcomes if o not in won), outcomes
    with deployed.read() as session:
        rows = {r.tracker: r.replaced for r in session.scalars(select(EncryptedBallot).where(EncryptedBallot.vote_id == vote.vote_id))}
        participation = session.get(Participation, (vote.vote_id, f"m:{bob}"))
        assert rows == {slip: True, won[0].tracker: False} and participation.changes == 1
        assert [e.type for e in ballot_events(session, vote.instance_id)] == ["paper_ballot_entered", "paper_ballot_corrected"]
