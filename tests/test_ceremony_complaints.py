"""Complaints in the trustees' key generation, resolved (docs/ballot-encryption.md §4 step 2), through the API on
both backends: a cheating dealer is caught (complaint → an answer that does not check → disqualified → a new round
without them → the key → ballots → decryption by the others → the board verifies offline, evidence included); an
honest dealer falsely accused answers and the complaint is dismissed; a complaint unanswered past its deadline gets
the dealer disqualified, not before; a ceremony left with fewer than k trustees fails cleanly; racing answers do
not corrupt the rounds; hostile bodies are refused with 4xx.
"""

from __future__ import annotations

import copy
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.bootstrap import Engine
from engine.kernel import instances
from engine.kernel.clock import ManualClock
from engine.kernel.commands import CompleteTask
from engine.kernel.errors import Conflict, InvalidInput
from engine.voting import ceremony as ceremony_module
from engine.voting.commands import AnswerComplaint
from engine.voting.encryption import encoding
from engine.voting.encryption.group import Scalar, random_scalar
from engine.voting.models import CeremonyPost
from tests.builders import events_of, open_vote, ready
from tests.ceremonies import Trustees, encrypted_vote, verify_offline, vote_and_decrypt
from tests.fixtures import bearer
from tests.helpers import Community, race

THREE = ("chair", "clerk", "auditor")
FOUR = ("chair", "clerk", "auditor", "carol")


def ceremony_events(deployed: Engine, instance_id: str) -> list[tuple[str, dict[str, Any]]]:
    kinds = {"trustee_complained", "complaint_answered", "trustee_disqualified", "ceremony_restarted", "ceremony_failed",
             "election_key_made"}
    with deployed.read() as session:
        return [(e.type, e.input) for e in events_of(session, instance_id) if e.type in kinds]


def posts_by_round(deployed: Engine, vote_id: str) -> dict[int, list[tuple[int, str, int]]]:
    with deployed.read() as session:
        found: dict[int, list[tuple[int, str, int]]] = {}
        for p in session.scalars(select(CeremonyPost).where(CeremonyPost.vote_id == vote_id)):
            found.setdefault(p.round, []).append((p.trustee, p.kind, p.recipient))
        return found


def test_a_cheating_dealer_is_disqualified_and_the_key_is_made_without_them(
        client: Any, deployed: Engine, community: Community, tmp_path: Path) -> None:
    instance_id, vote_id = encrypted_vote(deployed, community, THREE, 2)
    trustees = Trustees(client, community, vote_id, THREE, 2)
    trustees.deal()
    sent = random_scalar()
    trustees.send(cheats={(2, 3): sent})  # the clerk seals a wrong share for the auditor
    assert trustees.publish_key(1).status_code == 201 and trustees.publish_key(2).status_code == 201
    assert trustees.check(3)[1] == [2]
    assert trustees.complain(3, 2).status_code == 201
    complaint = trustees.state()["complaints"][0]
    assert (complaint["trustee"], complaint["dealer"], complaint["answer"]) == (3, 2, None)
    old_dealing = trustees.state()["dealings"][1]["dealing"]
    true_share = trustees.devices[2].shares[3]

    answered = trustees.answer(2, 3, sent)  # it reveals what it sealed, which is not f_2(3)
    assert answered.status_code == 201, answered.get_json()
    state = answered.get_json()
    assert (state["state"], state["round"], state["disqualified"]) == ("keying", 1, [2])
    assert state["dealings"] == state["key_shares"] == state["complaints"] == []  # a new round, nothing carried over
    (evidence,) = state["disqualifications"]
    assert {k: evidence[k] for k in ("round", "dealer", "complainant", "reason", "answer")} == {
        "round": 0, "dealer": 2, "complainant": 3, "reason": "bad_answer", "answer": encoding.hx(sent)}
    assert evidence["dealing"] == old_dealing
    assert trustees.answer(2, 3, sent).status_code == 403  # a disqualified trustee takes no further part
    assert trustees.post(2, "dealings", {"dealing": old_dealing, "envelope_key": "0" * 64}).status_code == 403

    reused = trustees.devices[1]  # a polynomial of the ended round may not come back
    again = trustees.post(1, "dealings", {"dealing": reused.dealing.to_json(), "envelope_key": encoding.hx(
        reused.dealing.commitments[0])})
    assert again.status_code == 422 and "fresh polynomial" in again.get_json()["error"]["message"]
    trustees.deal()
    assert set(trustees.devices) == {1, 3}
    with_the_disqualified = trustees.post(1, "envelopes", {"envelopes": {"2": "x", "3": "y"}})
    assert with_the_disqualified.status_code == 422
    trustees.send()
    assert trustees.publish_key(1).status_code == 201
    opened = trustees.publish_key(3).get_json()
    assert opened["state"] == "open" and opened["election"]["disqualified"] == [2]
    assert len(opened["election"]["trustees"]) == 2

    assert [kind for kind, _ in ceremony_events(deployed, instance_id)] == [
        "trustee_complained", "complaint_answered", "trustee_disqualified", "ceremony_restarted", "election_key_made"]
    _, answered_event, disqualified_event, restarted, _ = ceremony_events(deployed, instance_id)
    assert answered_event[1] == {"vote_id": vote_id, "trustee": 2, "complainant": 3, "dismissed": False, "round": 0}
    assert disqualified_event[1] == {"vote_id": vote_id, "trustee": 2, "complainant": 3, "round": 0, "kind": "bad_answer"}
    assert restarted[1] == {"vote_id": vote_id, "round": 1, "trustees": [1, 3]}
    rounds = posts_by_round(deployed, vote_id)
    assert (2, "answer", 3) in rounds[0] and (3, "complaint", 2) in rounds[0]  # the old round stays on record
    assert {t for t, kind, _ in rounds[1] if kind == "dealing"} == {1, 3}

    board = vote_and_decrypt(client, deployed, community, trustees, instance_id, trustees.keys(1, 3))  # Lagrange over {1, 3}
    assert client.post(f"/api/votes/{vote_id}/ceremony/decryptions", headers=bearer(community.tokens["clerk"]),
                        json={"partial": {}}).status_code == 403
    assert board["election"]["disqualified"] == [2] and board["disqualifications"][0]["reason"] == "bad_answer"
    verified = verify_offline(board, tmp_path)
    assert verified.exit_code == 0, verified.output

    honest = copy.deepcopy(board)  # had the clerk revealed its true share, it could not have been disqualified
    honest["disqualifications"][0]["answer"] = encoding.hx(true_share)
    failed = verify_offline(honest, tmp_path)
    assert failed.exit_code == 1 and "although the share it revealed" in failed.output
    hidden = {k: v for k, v in board.items() if k != "disqualifications"}
    assert verify_offline(hidden, tmp_path).exit_code == 1  # the election names a disqualified dealer: evidence needed


def test_an_honest_dealer_falsely_accused_answers_and_the_complaint_is_dismissed(
        client: Any, deployed: Engine, community: Community, clock: ManualClock) -> None:
    instance_id, vote_id = encrypted_vote(deployed, community, THREE, 2, answer_hours=6)
    trustees = Trustees(client, community, vote_id, THREE, 2)
    trustees.deal()
    trustees.send()
    assert trustees.publish_key(1).status_code == 201 and trustees.publish_key(2).status_code == 201
    assert trustees.complain(3, 1).status_code == 201  # the auditor accuses the chair, wrongly
    assert trustees.complain(3, 1).status_code == 201  # a retry: one complaint
    assert trustees.publish_key(3).get_json()["state"] == "keying"  # a complaint blocks the key until answered

    assert trustees.answer(2, 3).status_code == 409  # the clerk was not accused
    answered = trustees.answer(1, 3)
    assert answered.status_code == 201, answered.get_json()
    state = answered.get_json()
    assert state["state"] == "open" and state["disqualified"] == [] and state["round"] == 0  # dismissed: the key is made
    assert state["complaints"][0]["answer"] == encoding.hx(trustees.devices[1].shares[3])
    assert "disqualified" not in state["election"]  # the descriptor is exactly as without complaints
    assert trustees.answer(1, 3).status_code == 409  # the ceremony is open now: nothing more to answer

    clock.advance(timedelta(hours=7))
    refused = client.post(f"/api/votes/{vote_id}/ceremony/disqualifications", headers=bearer(community.tokens["chair"]),
                          json={"dealer": 1})
    assert refused.status_code == 409
    assert trustees.state()["disqualified"] == []
    assert ceremony_events(deployed, instance_id)[1][1]["dismissed"] is True


def test_a_committee_cannot_disqualify_a_dealer_who_answered_before_the_key(
        client: Any, deployed: Engine, community: Community, clock: ManualClock) -> None:
    _, vote_id = encrypted_vote(deployed, community, FOUR, 2, answer_hours=6)
    trustees = Trustees(client, community, vote_id, FOUR, 2)
    trustees.deal()
    trustees.send()
    assert trustees.complain(3, 1).status_code == 201 and trustees.complain(4, 2).status_code == 201
    assert trustees.answer(1, 3).status_code == 201  # dismissed; the complaint against 2 is still pending
    clock.advance(timedelta(hours=6, seconds=1))
    chair = community.tokens["chair"]
    answered = client.post(f"/api/votes/{vote_id}/ceremony/disqualifications", headers=bearer(chair), json={"dealer": 1})
    assert answered.status_code == 409 and "dismissed" in answered.get_json()["error"]["message"]
    uncomplained = client.post(f"/api/votes/{vote_id}/ceremony/disqualifications", headers=bearer(chair), json={"dealer": 3})
    assert uncomplained.status_code == 409
    assert trustees.state()["disqualified"] == []


def test_an_unanswered_complaint_gets_the_dealer_disqualified_after_its_deadline_not_before(
        client: Any, deployed: Engine, community: Community, clock: ManualClock, tmp_path: Path) -> None:
    instance_id, vote_id = encrypted_vote(deployed, community, THREE, 2, answer_hours=6)
    trustees = Trustees(client, community, vote_id, THREE, 2)
    trustees.deal()
    trustees.send()
    assert trustees.complain(3, 2).status_code == 201
    bob = community.tokens["bob"]  # anyone in the community may ask: the rule is mechanical
    path = f"/api/votes/{vote_id}/ceremony/disqualifications"
    early = client.post(path, headers=bearer(bob), json={"dealer": 2})
    assert early.status_code == 409 and "has until" in early.get_json()["error"]["message"]
    clock.advance(timedelta(hours=5, minutes=59))
    assert client.post(path, headers=bearer(bob), json={"dealer": 2}).status_code == 409
    assert trustees.state()["disqualified"] == []
    clock.advance(timedelta(minutes=1))
    late = client.post(path, headers=bearer(bob), json={"dealer": 2})
    assert late.status_code == 201, late.get_json()
    state = late.get_json()
    assert (state["round"], state["disqualified"]) == (1, [2])
    assert state["disqualifications"][0]["reason"] == "no_answer" and state["disqualifications"][0]["answer"] is None
    assert trustees.answer(2, 3).status_code == 403  # too late: disqualified
    assert client.post(path, headers=bearer(bob), json={"dealer": 2}).status_code == 422  # not a qualified dealer now
    disqualified = [e for e in ceremony_events(deployed, instance_id) if e[0] == "trustee_disqualified"]
    assert disqualified == [("trustee_disqualified", {"vote_id": vote_id, "trustee": 2, "complainant": 3, "round": 0,
                                                      "kind": "no_answer"})]

    trustees.deal()
    trustees.send()
    assert trustees.publish_key(1).status_code == 201 and trustees.publish_key(3).get_json()["state"] == "open"
    board = vote_and_decrypt(client, deployed, community, trustees, instance_id, trustees.keys(3, 1))
    verified = verify_offline(board, tmp_path)
    assert verified.exit_code == 0, verified.output
    claimed = copy.deepcopy(board)  # an answer that "came" but is said not to have: the reason must fit
    claimed["disqualifications"][0]["answer"] = encoding.hx(random_scalar())
    assert verify_offline(claimed, tmp_path).exit_code == 1


def test_too_few_trustees_left_fails_the_ceremony_cleanly(
        client: Any, deployed: Engine, community: Community) -> None:
    instance_id, vote_id = encrypted_vote(deployed, community, THREE, 3)
    trustees = Trustees(client, community, vote_id, THREE, 3)
    trustees.deal()
    trustees.send(cheats={(1, 2): random_scalar()})
    assert trustees.complain(2, 1).status_code == 201
    failed = trustees.answer(1, 2, random_scalar()).get_json()
    assert failed["state"] == "failed" and failed["disqualified"] == [1]
    assert failed["failure"] == {"reason": "threshold_unreachable", "qualified": [2, 3], "threshold": 3}
    chair = community.tokens["chair"]
    vote = client.get(f"/api/votes/{vote_id}", headers=bearer(chair)).get_json()
    assert vote["status"] == "keying"  # it never opened
    assert trustees.post(2, "dealings", {"dealing": trustees.devices[2].dealing.to_json(),
                                         "envelope_key": "0" * 64}).status_code == 409
    credential = client.post(f"/api/votes/{vote_id}/credentials", headers=bearer(community.tokens["alice"]),
                             json={"credential": encoding.hx(trustees.devices[2].dealing.commitments[0])})
    assert credential.status_code == 409 and "failed" in credential.get_json()["error"]["message"]
    assert client.post(f"/api/votes/{vote_id}/encrypted-ballots", headers=bearer(community.tokens["alice"]),
                       json={"ballot": {}}).status_code == 409
    assert [kind for kind, _ in ceremony_events(deployed, instance_id)][-2:] == ["trustee_disqualified", "ceremony_failed"]

    deployed.execute(CompleteTask(ready(deployed, instance_id)["voting"], {"reason": "The key ceremony failed."}),
                     community["chair"])
    result = client.get(f"/api/votes/{vote_id}/result", headers=bearer(chair)).get_json()
    assert result["secrecy"] == "encrypted" and "failed" in result["explanation"][0]
    assert client.get(f"/api/votes/{vote_id}", headers=bearer(chair)).get_json()["status"] == "closed"


def test_racing_answers_disqualify_one_dealer_and_restart_once(
        client: Any, deployed: Engine, community: Community, monkeypatch: pytest.MonkeyPatch) -> None:
    instance_id, vote_id = encrypted_vote(deployed, community, FOUR, 2)
    trustees = Trustees(client, community, vote_id, FOUR, 2)
    trustees.deal()
    trustees.send(cheats={(1, 4): random_scalar(), (2, 4): random_scalar()})  # two cheaters, one victim
    assert trustees.complain(4, 1).status_code == 201 and trustees.complain(4, 2).status_code == 201
    bad = {i: encoding.hx(trustees.devices[i].shares[4] + Scalar(1)) for i in (1, 2)}
    real = instances.record_unloaded

    def lingering(*args: Any, **kwargs: Any) -> None:  # each command lingers after its reads, before its writes
        time.sleep(0.15)
        real(*args, **kwargs)

    monkeypatch.setattr(ceremony_module, "record_unloaded", lingering)
    outcomes = race(deployed, [(AnswerComplaint(vote_id, 4, bad[1]), community["chair"]),
                               (AnswerComplaint(vote_id, 4, bad[2]), community["clerk"])], monkeypatch)
    won = [o for o in outcomes if isinstance(o, dict)]
    lost = [o for o in outcomes if not isinstance(o, dict)]
    assert len(won) == 1 and len(lost) == 1 and isinstance(lost[0], Conflict), outcomes
    state = trustees.state()
    assert state["round"] == 1 and len(state["disqualified"]) == 1 and state["complaints"] == []
    assert [k for k, _ in ceremony_events(deployed, instance_id)].count("trustee_disqualified") == 1
    rounds = posts_by_round(deployed, vote_id)
    assert [kind for _, kind, _ in rounds[0]].count("answer") == 1 and 1 not in rounds  # nothing leaked into round 1
    still = 2 if state["disqualified"] == [1] else 1  # the other cheater is still in: the new round will tell
    trustees.deal()
    trustees.send(cheats={(still, 4): random_scalar()})
    assert trustees.complain(4, still).status_code == 201
    assert trustees.answer(still, 4, trustees.devices[still].shares[4] + Scalar(1)).get_json()["disqualified"] == [
        3 - still, still]


def test_racing_complaints_and_an_answer_keep_each_post_in_its_round(
        client: Any, deployed: Engine, community: Community, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.voting.commands import PublishComplaint

    _, vote_id = encrypted_vote(deployed, community, FOUR, 2)
    trustees = Trustees(client, community, vote_id, FOUR, 2)
    trustees.deal()
    trustees.send(cheats={(1, 4): random_scalar()})
    assert trustees.complain(4, 1).status_code == 201
    real = instances.record_unloaded

    def lingering(*args: Any, **kwargs: Any) -> None:
        time.sleep(0.15)
        real(*args, **kwargs)

    monkeypatch.setattr(ceremony_module, "record_unloaded", lingering)
    bad = encoding.hx(trustees.devices[1].shares[4] + Scalar(1))
    outcomes = race(deployed, [(AnswerComplaint(vote_id, 4, bad), community["chair"]),
                               (PublishComplaint(vote_id, 2), community["auditor"])], monkeypatch)
    state = trustees.state()
    assert state["round"] == 1 and state["disqualified"] == [1]
    rounds = posts_by_round(deployed, vote_id)
    assert 1 not in rounds  # the complaint landed in round 0 (before the restart) or was refused (after it)
    complained = (3, "complaint", 2) in rounds[0]
    assert complained == isinstance(outcomes[1], dict), outcomes
    assert isinstance(outcomes[0], dict)


HOSTILE_ANSWERS = [
    {}, {"complainant": 3}, {"share": "00" * 32}, {"complainant": "3", "share": "00" * 32},
    {"complainant": 0, "share": "00" * 32}, {"complainant": 3, "share": "AB" * 32}, {"complainant": 3, "share": "zz"},
    {"complainant": 3, "share": "00" * 32, "extra": 1}, {"complainant": 3, "share": ["00" * 32]},
    {"complainant": 10**9, "share": "00" * 32}, {"complainant": 3, "share": "ff" * 32},  # ≥ ℓ: not canonical
    {"complainant": 1, "share": "00" * 32},  # yourself
    {"complainant": 3, "share": "00" * 32 + "0" * 10000},
]


def test_hostile_bodies_are_refused_with_4xx_and_change_nothing(
        client: Any, deployed: Engine, community: Community, other_community: Community) -> None:
    _, vote_id = encrypted_vote(deployed, community, THREE, 2)
    trustees = Trustees(client, community, vote_id, THREE, 2)
    trustees.deal()
    trustees.send()
    assert trustees.answer(1, 3).status_code == 409  # no complaint yet: nothing to answer
    assert trustees.complain(3, 1).status_code == 201
    for body in HOSTILE_ANSWERS:
        answer = trustees.post(1, "answers", body)
        assert 400 <= answer.status_code < 500 and answer.status_code != 404, (body, answer.status_code)
        assert answer.get_json()["error"]["code"], body
    path = f"/api/votes/{vote_id}/ceremony/disqualifications"
    for body in ({}, {"dealer": 0}, {"dealer": "1"}, {"dealer": 4}, {"dealer": None}, {"dealer": 1, "why": "x"}):
        answer = client.post(path, headers=bearer(community.tokens["chair"]), json=body)
        assert answer.status_code in (409, 422), (body, answer.status_code)
    assert client.post(f"/api/votes/{vote_id}/ceremony/answers", headers=bearer(community.tokens["alice"]),
                       json={"complainant": 3, "share": "00" * 32}).status_code == 403  # not a trustee
    stranger = other_community.tokens["chair"]
    assert client.post(path, headers=bearer(stranger), json={"dealer": 1}).status_code == 404  # another community's
    assert client.post(f"/api/votes/{vote_id}/ceremony/answers", headers=bearer(stranger),
                       json={"complainant": 3, "share": "00" * 32}).status_code == 404
    assert client.post(path, data="not json", headers={**bearer(community.tokens["chair"]),
                                                       "Content-Type": "application/json"}).status_code in (400, 422)
    state = trustees.state()
    assert state["complaints"][0]["answer"] is None and state["disqualified"] == [] and state["round"] == 0

    assert trustees.answer(1, 3).status_code == 201  # the real answer, still possible
    assert trustees.answer(1, 3, random_scalar()).status_code == 409  # one answer: it cannot be changed

    _, plain_vote = open_vote(deployed, community)
    assert client.post(f"/api/votes/{plain_vote}/ceremony/disqualifications", headers=bearer(community.tokens["chair"]),
                       json={"dealer": 1}).status_code == 409  # not an encrypted vote


@pytest.mark.parametrize("hours", [0, -1, "6", 721, 1.5])
def test_the_answer_deadline_is_whole_hours_within_a_month(
        deployed: Engine, community: Community, hours: Any) -> None:
    with pytest.raises(InvalidInput):
        encrypted_vote(deployed, community, THREE, 2, answer_hours=hours)
