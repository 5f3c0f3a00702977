"""Votes at the engine and API level: one ballot per voter under real concurrency, idempotent
casting, secrecy of what is stored, sealed results, households, changed ballots, the deadline,
replay without re-running the service operations, and refused configurations.

Every test runs on SQLite and on PostgreSQL (the ``database_url`` fixture).
"""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import DateTime, func, inspect, select, text
from sqlalchemy.orm import Session

from engine.kernel.commands import CompleteTask, DeployDefinition
from engine.voting.commands import CastBallot, CorrectPaperBallot, EnterPaperBallot
from engine.kernel import operations
from engine.identity import actors
from engine.voting import casting as voting_casting
from engine.voting import queries as voting_queries
from engine.kernel.clock import ManualClock
from engine.kernel.errors import Conflict, InvalidInput, PermissionDenied
from engine.audit.bundles import export
from engine.audit.offline.verify import verify
from engine.voting.models import Ballot, ElectorateEntry, Participation, ReplacedBallot, Vote
from engine.kernel.models import HumanTask, Instance
from engine.identity.models import Member
from engine.kernel.replay import replay
from engine.bootstrap import Engine
from engine.voting.counting import board as bulletin
from tests.fixtures import bearer
from tests.builders import VOTE_CONFIG, add_member, ballot_events, close_by_deadline, count, events_of, identity_token, open_vote, ready, start_vote
from tests.helpers import Community, Race, race

ROOT = Path(__file__).resolve().parent.parent
# --- helpers ----------------------------------------------------------------------------------


def api(client: FlaskClient, token: str, method: str, path: str, body: Any = None, **headers: str) -> Any:
    return client.open(path, method=method, json=body, headers={**bearer(token), **headers})


# --- one ballot per voter, enforced by the database --------------------------------------------


@pytest.mark.parametrize("rival", ["online", "paper"])
def test_one_ballot_per_voter_even_when_two_arrive_at_the_same_moment(
    deployed: Engine, community: Community, monkeypatch: pytest.MonkeyPatch, rival: str
) -> None:
    """Both requests pass the "has not voted yet" check before either writes: only the database stops the second.

    ``_new_receipt`` runs after the participation check and before the insert, so a barrier there
    holds each request until both have checked: a real race, whatever the scheduler does (on SQLite,
    where units of work take turns, the second checks after the first wrote: see ``Race``).
    """
    instance_id, vote_id = open_vote(deployed, community)
    alice = community["alice"]
    attempts = {
        "online": (CastBallot(vote_id, "yes"), alice),
        "rival": (CastBallot(vote_id, "no"), alice) if rival == "online"
        else (EnterPaperBallot(vote_id, alice.member_id, "no"), community["clerk"]),
    }
    barrier = Race(deployed)
    real_receipt = voting_casting._new_receipt

    def receipt_once_both_have_checked() -> str:
        barrier.meet()
        return real_receipt()

    outcomes: dict[str, Any] = {}

    def attempt(name: str) -> None:
        command, actor = attempts[name]
        try:
            outcomes[name] = deployed.execute(command, actor)
        except BaseException as exc:  # noqa: BLE001 - checked below
            outcomes[name] = exc

    with monkeypatch.context() as patch:
        patch.setattr(voting_casting, "_new_receipt", receipt_once_both_have_checked)
        threads = [threading.Thread(target=attempt, args=(name,)) for name in attempts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    assert not barrier.broken, "the two requests did not both pass the participation check"

    receipts = {n: o for n, o in outcomes.items() if isinstance(o, voting_casting.Receipt)}
    refused = {n: o for n, o in outcomes.items() if not isinstance(o, voting_casting.Receipt)}
    assert len(receipts) == 1 and len(refused) == 1, outcomes
    (winner, receipt), (loser_error,) = next(iter(receipts.items())), refused.values()
    assert isinstance(loser_error, Conflict), loser_error
    winning_choice, winning_channel = {"online": ("yes", "online"), "rival": ("no", "online" if rival == "online" else "paper")}[winner]

    with deployed.read() as session:
        (participation,) = session.scalars(select(Participation).where(Participation.vote_id == vote_id))
        assert (participation.voter_key, participation.channel) == (f"m:{alice.member_id}", winning_channel)
        (ballot,) = session.scalars(select(Ballot).where(Ballot.vote_id == vote_id))
        assert (ballot.fingerprint, ballot.choice) == (receipt.fingerprint, winning_choice)
        assert len(ballot_events(session, instance_id)) == 1
        instance = session.get(Instance, instance_id)
        assert instance.last_seq == len(events_of(session, instance_id)) == 3
        assert replay(session, instance).ok


# --- idempotency ------------------------------------------------------------------------------


def test_a_retried_ballot_gets_the_same_receipt_and_a_reused_key_nothing_else(
    client: FlaskClient, deployed: Engine, community: Community
) -> None:
    instance_id, vote_id = open_vote(deployed, community)
    path, key = f"/api/votes/{vote_id}/ballots", str(uuid.uuid4())
    alice, bob = community.tokens["alice"], community.tokens["bob"]

    first = api(client, alice, "POST", path, {"choice": "yes"}, **{"Idempotency-Key": key})
    again = api(client, alice, "POST", path, {"choice": "yes"}, **{"Idempotency-Key": key})
    assert (first.status_code, again.status_code) == (201, 201), (first.json, again.json)
    assert again.json == first.json
    assert first.json["fingerprint"] == bulletin.fingerprint(vote_id, first.json["receipt"])

    other_choice = api(client, alice, "POST", path, {"choice": "no"}, **{"Idempotency-Key": key})
    assert other_choice.status_code == 409
    assert "different ballot" in other_choice.json["error"]["message"]

    someone_else = api(client, bob, "POST", path, {"choice": "yes"}, **{"Idempotency-Key": key})
    assert someone_else.status_code == 409  # bob does not get alice's receipt back, and is told why
    assert "receipt" not in someone_else.json
    assert "idempotency key was already used" in someone_else.json["error"]["message"]

    short = api(client, alice, "POST", path, {"choice": "yes"}, **{"Idempotency-Key": "too-short"})
    assert short.status_code == 422
    assert [e["field"] for e in short.json["error"]["details"]["errors"]] == ["Idempotency-Key"]

    with deployed.read() as session:
        assert (count(session, Ballot, vote_id), count(session, Participation, vote_id)) == (1, 1)
        (event,) = ballot_events(session, instance_id)
        assert (event.type, event.actor_id) == ("ballot_cast", community["alice"].member_id)
        participation = session.get(Participation, (vote_id, f"m:{community['alice'].member_id}"))
        assert participation.changes == 0
        assert key not in (participation.idempotency_hash or "") and first.json["receipt"] not in participation.sealed_receipt
    with pytest.raises(InvalidInput):
        deployed.execute(CastBallot(vote_id, "yes", idempotency_key="short"), community["carol"])


def test_a_retried_change_gets_the_same_new_receipt(client: FlaskClient, deployed: Engine, community: Community) -> None:
    _, vote_id = open_vote(deployed, community)
    path, alice = f"/api/votes/{vote_id}/ballots", community.tokens["alice"]
    first = api(client, alice, "POST", path, {"choice": "yes"}).json
    change, key = {"choice": "no", "receipt": first["receipt"]}, str(uuid.uuid4())
    changed = api(client, alice, "POST", path, change, **{"Idempotency-Key": key})
    retried = api(client, alice, "POST", path, change, **{"Idempotency-Key": key})
    assert (changed.status_code, retried.status_code) == (201, 201)
    assert retried.json == changed.json and changed.json["changed"] is True
    with deployed.read() as session:
        (ballot,) = session.scalars(select(Ballot).where(Ballot.vote_id == vote_id))
        assert (ballot.choice, ballot.fingerprint) == ("no", changed.json["fingerprint"])
        assert session.get(Participation, (vote_id, f"m:{community['alice'].member_id}")).changes == 1


# --- secrecy ----------------------------------------------------------------------------------


def test_nothing_stored_links_a_secret_ballot_to_its_voter(deployed: Engine, community: Community, database_url: str) -> None:
    for n in range(9):
        add_member(deployed, community, f"neighbour{n}", ["resident"])
    instance_id, vote_id = open_vote(deployed, community)
    with deployed.read() as session:
        voters = [actors.actor_for(m) for m in session.scalars(
            select(Member).where(Member.community_id == community.id).order_by(Member.id))
            if "resident" in m.roles and m.name != "bob"]
    cast_order: list[str] = []
    for i, voter in enumerate(voters):
        receipt = deployed.execute(CastBallot(vote_id, ("yes", "no", "abstain")[i % 3]), voter)
        cast_order.append(receipt.fingerprint)
    paper = deployed.execute(EnterPaperBallot(vote_id, community["bob"].member_id, "no"), community["clerk"])
    deployed.execute(CorrectPaperBallot(vote_id, community["bob"].member_id, paper.receipt, "yes"), community["clerk"])
    changed = deployed.execute(CastBallot(vote_id, "no", previous_receipt=receipt.receipt), voters[-1])
    cast_order[-1] = changed.fingerprint

    with deployed.read() as session:
        ballot_columns = {col["name"]: col["type"] for col in inspect(session.bind).get_columns("ballots")}
        assert set(ballot_columns) == {"id", "vote_id", "fingerprint", "choice", "weight", "voter_key"}
        assert not any(isinstance(kind, DateTime) for kind in ballot_columns.values())
        participation_columns = {col["name"] for col in inspect(session.bind).get_columns("participations")}
        assert not participation_columns & {"choice", "fingerprint", "ballot_id", "receipt"}

        ballots = list(session.scalars(select(Ballot).where(Ballot.vote_id == vote_id)))
        assert len(ballots) == len(voters) + 1
        assert all(b.voter_key is None for b in ballots)
        ids = {b.fingerprint: b.id for b in ballots}
        assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids.values()) and len(set(ids.values())) == len(ballots)
        ids_in_cast_order = [ids[f] for f in cast_order]
        assert ids_in_cast_order != sorted(ids_in_cast_order)  # random ids: their order says nothing of the casting order

        stored = {str(value) for p in session.scalars(select(Participation)) for value in vars(p).values()}
        assert not stored & ({b.id for b in ballots} | {b.fingerprint for b in ballots} | {changed.receipt, paper.receipt})

        events = ballot_events(session, instance_id)
        assert sorted(e.type for e in events) == sorted(
            ["ballot_cast"] * len(voters) + ["paper_ballot_entered", "paper_ballot_corrected", "ballot_changed"])
        assert all("choice" not in e.input and set(e.input) <= {"vote_id", "channel", "voter_id"} for e in events)

        if database_url.startswith("sqlite"):
            (sql,) = session.execute(text("SELECT sql FROM sqlite_master WHERE name = 'ballots'")).one()
            assert "WITHOUT ROWID" in sql.upper()
            stored_order = list(session.scalars(text("SELECT fingerprint FROM ballots")))
            assert sorted(stored_order) == sorted(ids)
            assert [f for f in stored_order if f in set(cast_order)] != cast_order  # nor does their place in the table


def test_a_public_vote_records_who_voted_what(deployed: Engine, community: Community) -> None:
    instance_id, vote_id = open_vote(deployed, community, secret=False)
    deployed.execute(CastBallot(vote_id, "yes"), community["alice"])
    paper = deployed.execute(EnterPaperBallot(vote_id, community["bob"].member_id, "no"), community["clerk"])
    deployed.execute(CorrectPaperBallot(vote_id, community["bob"].member_id, paper.receipt, "abstain"), community["clerk"])
    with deployed.read() as session:
        ballots = {b.voter_key: b.choice for b in session.scalars(select(Ballot).where(Ballot.vote_id == vote_id))}
        assert ballots == {f"m:{community['alice'].member_id}": "yes", f"m:{community['bob'].member_id}": "abstain"}
        assert [(e.type, e.actor_id, e.input.get("voter_id"), e.input["choice"]) for e in ballot_events(session, instance_id)] == [
            ("ballot_cast", community["alice"].member_id, None, "yes"),
            ("paper_ballot_entered", community["clerk"].member_id, community["bob"].member_id, "no"),
            ("paper_ballot_corrected", community["clerk"].member_id, community["bob"].member_id, "abstain"),
        ]
        vote = session.get(Vote, vote_id)
        assert [(b["voter"], b["choice"]) for b in voting_queries.public_ballots(session, vote)] == sorted(
            [("alice", "yes"), ("bob", "abstain")], key=lambda b: f"m:{community[b[0]].member_id}")


# --- results stay sealed until the close --------------------------------------------------------


def test_result_and_board_are_sealed_for_everyone_until_the_close_while_turnout_is_live(
    client: FlaskClient, deployed: Engine, community: Community, clock: ManualClock
) -> None:
    instance_id, vote_id = open_vote(deployed, community)
    deployed.execute(CastBallot(vote_id, "yes"), community["alice"])
    deployed.execute(CastBallot(vote_id, "no"), community["bob"])
    for member in ("admin", "chair", "clerk", "auditor", "alice"):
        token = community.tokens[member]
        for what in ("result", "board"):
            response = api(client, token, "GET", f"/api/votes/{vote_id}/{what}")
            assert (response.status_code, response.json["error"]["code"]) == (409, "conflict"), (member, what)
        turnout = api(client, token, "GET", f"/api/votes/{vote_id}/turnout").json
        assert turnout == {"vote_id": vote_id, "status": "open", "eligible": 4, "cast": 2, "by_channel": {"online": 2},
                           "eligible_weight": None, "cast_weight": None}
    with deployed.read() as session:
        vote = session.get(Vote, vote_id)
        assert (vote.result, vote.board_root) == (None, None)
        with pytest.raises(Conflict):
            voting_queries.result(vote)
        with pytest.raises(Conflict):
            voting_queries.bulletin_board(session, vote)
    close_by_deadline(deployed, clock, instance_id)
    for member in ("admin", "alice"):
        assert api(client, community.tokens[member], "GET", f"/api/votes/{vote_id}/result").json["outcome"] == "tie"
        board = api(client, community.tokens[member], "GET", f"/api/votes/{vote_id}/board").json
        assert bulletin.verify(board).ok


# --- households -------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [True, False], ids=["secret", "public"])
def test_one_ballot_per_household(client: FlaskClient, deployed: Engine, community: Community, secret: bool) -> None:
    dad = add_member(deployed, community, "dad", ["resident"], household="5-101")
    mum = add_member(deployed, community, "mum", ["resident"], household="5-101")
    lodger = add_member(deployed, community, "lodger", ["resident"], household="5-102")
    drifter = add_member(deployed, community, "drifter", ["resident"])
    instance_id, vote_id = open_vote(deployed, community, electorate="households", secret=secret)
    with deployed.read() as session:
        vote = session.get(Vote, vote_id)
        assert (vote.basis, vote.eligible_heads) == ("households", 2)
        assert set(session.scalars(select(ElectorateEntry.voter_key).where(ElectorateEntry.vote_id == vote_id))) == {"h:5-101", "h:5-102"}

    first = deployed.execute(CastBallot(vote_id, "yes"), dad)
    with pytest.raises(Conflict, match="household"):
        deployed.execute(CastBallot(vote_id, "no"), mum)
    with pytest.raises(Conflict, match="household"):
        deployed.execute(CastBallot(vote_id, "no", previous_receipt=first.receipt), mum)
    with pytest.raises(PermissionDenied, match="electorate"):
        deployed.execute(CastBallot(vote_id, "no"), drifter)
    deployed.execute(CastBallot(vote_id, "no"), lodger)
    deployed.execute(CastBallot(vote_id, "no", previous_receipt=None if not secret else first.receipt), dad)

    with deployed.read() as session:
        vote = session.get(Vote, vote_id)
        assert voting_queries.my_participation(session, mum, vote)["voted"] is True
        assert voting_queries.my_participation(session, drifter, vote) == {"eligible": False, "voted": False}
        participations = {p.voter_key: (p.member_id, p.changes) for p in session.scalars(
            select(Participation).where(Participation.vote_id == vote_id))}
        assert participations == {"h:5-101": (dad.member_id, 1), "h:5-102": (lodger.member_id, 0)}
        assert sorted(b.choice for b in session.scalars(select(Ballot).where(Ballot.vote_id == vote_id))) == ["no", "no"]
        assert [e.actor_id for e in ballot_events(session, instance_id)] == [dad.member_id, lodger.member_id, dad.member_id]
    refused = api(client, identity_token(deployed, community, mum), "POST", f"/api/votes/{vote_id}/ballots", {"choice": "yes"})
    assert refused.status_code == 409


# --- changing a ballot ------------------------------------------------------------------------


def test_a_secret_ballot_changes_only_with_the_latest_receipt_and_only_the_last_choice_counts(
    deployed: Engine, community: Community, clock: ManualClock
) -> None:
    instance_id, vote_id = open_vote(deployed, community)
    alice = community["alice"]
    first = deployed.execute(CastBallot(vote_id, "yes"), alice)
    deployed.execute(CastBallot(vote_id, "yes"), community["bob"])
    with pytest.raises(Conflict, match="receipt"):
        deployed.execute(CastBallot(vote_id, "no"), alice)
    with pytest.raises(Conflict, match="receipt"):
        deployed.execute(CastBallot(vote_id, "no", previous_receipt="not-a-receipt-of-this-vote"), alice)
    second = deployed.execute(CastBallot(vote_id, "no", previous_receipt=first.receipt), alice)
    assert second.changed and second.receipt != first.receipt and second.fingerprint != first.fingerprint
    with pytest.raises(Conflict, match="already replaced by a later ballot"):
        deployed.execute(CastBallot(vote_id, "abstain", previous_receipt=first.receipt), alice)
    with pytest.raises(Conflict, match="not the one of this voter's latest ballot"):  # a receipt bob handed over
        deployed.execute(CastBallot(vote_id, "abstain", previous_receipt=second.receipt), community["bob"])
    third = deployed.execute(CastBallot(vote_id, "no", previous_receipt=second.receipt), alice)

    close_by_deadline(deployed, clock, instance_id)
    with deployed.read() as session:
        vote = session.get(Vote, vote_id)
        board = voting_queries.bulletin_board(session, vote)
        fingerprints = {entry["fingerprint"]: entry["choice"] for entry in board["ballots"]}
        assert first.fingerprint not in fingerprints and second.fingerprint not in fingerprints
        assert fingerprints[third.fingerprint] == "no"
        assert len(fingerprints) == 2
        assert vote.result["counts"]["options"]["yes"]["heads"] == 1 and vote.result["counts"]["options"]["no"]["heads"] == 1
        assert voting_queries.check_receipt(session, vote, first.receipt) == {
            "fingerprint": first.fingerprint, "found": True, "current": False, "replaced": True, "choice": None, "on_board": False}
        assert voting_queries.check_receipt(session, vote, third.receipt) == {
            "fingerprint": third.fingerprint, "found": True, "current": True, "replaced": False, "choice": "no", "on_board": True}
        assert voting_queries.check_receipt(session, vote, "never-issued-receipt")["found"] is False
        assert session.get(Participation, (vote_id, f"m:{alice.member_id}")).changes == 2


# --- the deadline -----------------------------------------------------------------------------


def test_a_ballot_after_the_deadline_is_refused_before_and_after_the_timer_fires(
    deployed: Engine, community: Community, clock: ManualClock
) -> None:
    instance_id, vote_id = open_vote(deployed, community)
    deployed.execute(CastBallot(vote_id, "yes"), community["alice"])
    with deployed.read() as session:
        deadline = session.get(Vote, vote_id).deadline
    clock.set(deadline)  # the deadline itself is already too late
    with pytest.raises(Conflict, match="closed"):
        deployed.execute(CastBallot(vote_id, "yes"), community["bob"])
    with pytest.raises(Conflict, match="closed"):
        deployed.execute(EnterPaperBallot(vote_id, community["bob"].member_id, "yes"), community["clerk"])
    with deployed.read() as session:
        assert session.get(Vote, vote_id).status == "open"  # the timer has not fired yet
        assert count(session, Participation, vote_id) == 1
    clock.advance(timedelta(seconds=1))
    assert deployed.fire_due_timers() == 1
    with pytest.raises(Conflict, match="closed"):
        deployed.execute(CastBallot(vote_id, "yes"), community["bob"])
    with deployed.read() as session:
        instance, vote = session.get(Instance, instance_id), session.get(Vote, vote_id)
        assert (instance.status, instance.completed_at) == ("completed", clock.now())
        assert (vote.status, vote.closed_at) == ("closed", clock.now())
        assert instance.data["vote_result"] == voting_queries.summary(vote)
        assert instance.data["vote_result"]["outcome"] == "passed"


# --- replay -----------------------------------------------------------------------------------


def _forbid_service_operations(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(context: operations.ServiceContext, params: dict[str, Any]) -> Any:
        raise AssertionError("replay ran a service operation")

    for name in ("vote.open", "vote.close"):
        monkeypatch.setitem(operations._REGISTRY, name, refuse)


def _vote_row(session: Session, vote_id: str) -> dict[str, Any]:
    vote = session.get(Vote, vote_id)
    return {column.key: getattr(vote, column.key) for column in inspect(Vote).columns}


@pytest.mark.parametrize("closing", ["deadline", "early", "all_voted"])
def test_a_vote_replays_without_running_its_service_operations_again(
    deployed: Engine, community: Community, clock: ManualClock, monkeypatch: pytest.MonkeyPatch, closing: str
) -> None:
    instance_id, vote_id = open_vote(deployed, community, close_when_all_voted=closing == "all_voted")
    clock.advance(timedelta(hours=1))
    first = deployed.execute(CastBallot(vote_id, "yes"), community["alice"])
    deployed.execute(CastBallot(vote_id, "no", previous_receipt=first.receipt), community["alice"])
    deployed.execute(EnterPaperBallot(vote_id, community["bob"].member_id, "yes"), community["clerk"])
    clock.advance(timedelta(hours=1))
    deployed.execute(CastBallot(vote_id, "yes"), community["carol"])
    if closing == "deadline":
        close_by_deadline(deployed, clock, instance_id)
    elif closing == "early":
        deployed.execute(CompleteTask(ready(deployed, instance_id)["voting"], {"reason": "Enough."}), community["chair"])
    else:
        deployed.execute(CastBallot(vote_id, "abstain"), community["chair"])

    with deployed.read() as session:
        before = _vote_row(session, vote_id)
        instance = session.get(Instance, instance_id)
        assert instance.status == "completed" and before["status"] == "closed"
        calls = [call["operation"] for e in events_of(session, instance_id) for call in (e.services or [])]
        assert calls == ["vote.open", "vote.close"]
        _forbid_service_operations(monkeypatch)
        report = replay(session, instance)
        assert report.ok, report.mismatches
        assert report.events == instance.last_seq
    with deployed.read() as session:
        assert _vote_row(session, vote_id) == before
        assert session.scalar(select(func.count()).select_from(Vote)) == 1


def test_a_vote_called_from_another_process_replays(
    deployed: Engine, community: Community, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed.execute(DeployDefinition("vote_caller.bpmn", (ROOT / "tests" / "vote_caller.bpmn").read_bytes()), community["admin"])
    instance_id, vote_id = open_vote(deployed, community, key="vote_caller")
    deployed.execute(CastBallot(vote_id, "yes"), community["alice"])
    deployed.execute(CastBallot(vote_id, "yes"), community["bob"])
    close_by_deadline(deployed, clock, instance_id)
    assert list(ready(deployed, instance_id)) == ["act_on_it"]
    with deployed.read() as session:
        before = _vote_row(session, vote_id)
        _forbid_service_operations(monkeypatch)
        assert replay(session, session.get(Instance, instance_id)).ok
        assert _vote_row(session, vote_id) == before


# --- refused configurations -------------------------------------------------------------------


BAD_CONFIGURATIONS = {
    "unknown rule key": ({"rule": {"quorum": {"share": "1/2"}, "colour": "green"}}, ["vote.rule"]),
    "unknown threshold key": ({"rule": {"threshold": {"kind": "two_thirds", "basis": "heads", "of": "all"}}}, ["vote.rule.threshold"]),
    "threshold on a ranked vote": ({"method": "schulze", "options": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}],
                                    "rule": {"threshold": {"kind": "two_thirds"}}}, ["vote.rule.threshold"]),
    "options for a yes/no vote": ({"options": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}]}, ["vote.options"]),
    "one option for plurality": ({"method": "plurality", "options": [{"id": "a", "label": "A"}]}, ["vote.options"]),
    "the same option twice": ({"method": "plurality", "options": [{"id": "a", "label": "A"}, {"id": "a", "label": "B"}]}, ["vote.options"]),
    "weight basis for residents": ({"rule": {"quorum": {"share": "1/2", "basis": "both"}}}, ["vote.rule.quorum.basis"]),
    "an owner without an area": ({"electorate": "owners", "rule": {"preset": "civil_code_278"}}, ["vote.electorate"]),
    "a deadline in the past": ({"deadline": "2026-03-02T08:59"}, ["vote.deadline"]),
    "no rule": ({"rule": None}, ["vote.rule"]),
}


@pytest.mark.parametrize("config, fields", BAD_CONFIGURATIONS.values(), ids=BAD_CONFIGURATIONS.keys())
def test_a_bad_configuration_is_refused_with_its_fields_and_nothing_is_written(
    client: FlaskClient, deployed: Engine, community: Community, config: dict[str, Any], fields: list[str]
) -> None:
    add_member(deployed, community, "measured", ["owner"], household="1-101", area="86.35")
    add_member(deployed, community, "unmeasured", ["owner"], household="1-102")
    instance_id = start_vote(deployed, community)
    task_id = ready(deployed, instance_id)["configure_vote"]
    with deployed.read() as session:
        before = session.get(Instance, instance_id)
        digest, seq = before.state_digest, before.last_seq

    response = api(client, community.tokens["chair"], "POST", f"/api/tasks/{task_id}/complete", {"data": {"vote": {**VOTE_CONFIG, **config}}})
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "invalid_input"
    errors = response.json["error"]["details"]["errors"]
    assert sorted(e["field"] for e in errors) == fields and all(e["message"] for e in errors)

    with deployed.read() as session:
        instance = session.get(Instance, instance_id)
        assert (instance.status, instance.state_digest, instance.last_seq) == ("running", digest, seq)
        assert len(events_of(session, instance_id)) == seq == 1
        assert session.scalar(select(func.count()).select_from(Vote)) == 0
        assert session.scalar(select(func.count()).select_from(ElectorateEntry)) == 0
        assert session.get(HumanTask, task_id).state == "READY"
        assert "vote" not in instance.data


# --- racing changes: a receipt is spent once ----------------------------------------------------


@pytest.mark.parametrize("channel", ["online", "paper"])
def test_of_racing_changes_presenting_one_receipt_exactly_one_is_acknowledged(
    deployed: Engine, community: Community, monkeypatch: pytest.MonkeyPatch, channel: str
) -> None:
    """Six changes of alice's ballot at once, each presenting her first receipt and lingering after
    its checks (on PostgreSQL all six read the ballot before any writes): one new receipt, five
    refusals, one change counted — and the acknowledged receipt is the ballot on the board."""
    instance_id, vote_id = open_vote(deployed, community)
    alice, clerk = community["alice"], community["clerk"]
    if channel == "online":
        first = deployed.execute(CastBallot(vote_id, "yes"), alice)
        attempts = [(CastBallot(vote_id, choice, f"change-{n:02d}-{uuid.uuid4()}", first.receipt), alice)
                    for n, choice in enumerate(["no", "abstain"] * 3)]
    else:
        first = deployed.execute(EnterPaperBallot(vote_id, alice.member_id, "yes"), clerk)
        attempts = [(CorrectPaperBallot(vote_id, alice.member_id, first.receipt, choice), clerk)
                    for choice in ["no", "abstain"] * 3]
    outcomes = race(deployed, attempts, monkeypatch)

    receipts = [o for o in outcomes if isinstance(o, voting_casting.Receipt)]
    refused = [o for o in outcomes if not isinstance(o, voting_casting.Receipt)]
    assert len(receipts) == 1, outcomes
    assert all(isinstance(o, Conflict) and "already replaced by a later ballot" in o.message for o in refused), refused
    (won,) = receipts
    won_choice = attempts[outcomes.index(won)][0].choice
    with deployed.read() as session:
        vote = session.get(Vote, vote_id)
        assert voting_queries.check_receipt(session, vote, won.receipt)["current"] is True
        assert voting_queries.check_receipt(session, vote, first.receipt)["replaced"] is True
        (ballot,) = session.scalars(select(Ballot).where(Ballot.vote_id == vote_id))
        assert (ballot.fingerprint, ballot.choice) == (won.fingerprint, won_choice)
        assert session.get(Participation, (vote_id, f"m:{alice.member_id}")).changes == 1
        assert len(ballot_events(session, instance_id)) == 2
        assert count(session, ReplacedBallot, vote_id) == 1
        assert verify(export(session, community.id, now=deployed.clock.now(), public_keys={}), replay=False).ok


def test_a_reused_key_in_a_change_is_named_as_such(deployed: Engine, community: Community) -> None:
    """Bob sends, with his change, the key alice's ballot was cast with: his change is refused for
    the key, not as a second ballot or a concurrent write."""
    _, vote_id = open_vote(deployed, community)
    key = str(uuid.uuid4())
    deployed.execute(CastBallot(vote_id, "yes", key), community["alice"])
    bobs = deployed.execute(CastBallot(vote_id, "yes"), community["bob"])
    with pytest.raises(Conflict, match="this idempotency key was already used for another ballot in this vote"):
        deployed.execute(CastBallot(vote_id, "no", key, bobs.receipt), community["bob"])
    with pytest.raises(Conflict, match="this idempotency key was already used for another ballot in this vote"):
        deployed.execute(CastBallot(vote_id, "no", key), community["carol"])


def test_the_last_two_ballots_cast_at_once_close_the_vote_once(deployed: Engine, community: Community,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A vote that closes when everyone has voted: the last two voters cast at the same moment
    (each lingering before its write); the second to commit sees the first's ballot and closes it."""
    instance_id, vote_id = open_vote(deployed, community, close_when_all_voted=True)
    with deployed.read() as session:
        voters = [actors.actor_for(m) for m in session.scalars(select(Member).where(Member.community_id == community.id))
                  if "resident" in m.roles]
    for voter in voters[:-2]:
        deployed.execute(CastBallot(vote_id, "yes"), voter)
    outcomes = race(deployed, [(CastBallot(vote_id, "no"), voter) for voter in voters[-2:]], monkeypatch)
    assert all(isinstance(o, voting_casting.Receipt) for o in outcomes), outcomes
    with deployed.read() as session:
        assert session.get(Vote, vote_id).status == "closed"
        delivered = [e for e in events_of(session, instance_id) if e.type == "message_delivered"]
        assert [e.input["message"] for e in delivered] == [voting_casting.ALL_VOTED_MESSAGE]


def test_another_communitys_member_can_neither_check_nor_spend_a_receipt(
    client: FlaskClient, deployed: Engine, community: Community, other_community: Community
) -> None:
    _, vote_id = open_vote(deployed, community)
    receipt = deployed.execute(CastBallot(vote_id, "yes"), community["alice"]).receipt
    outsider = other_community.tokens["alice"]
    checked = api(client, outsider, "POST", f"/api/votes/{vote_id}/receipts/check", {"receipt": receipt})
    changed = api(client, outsider, "POST", f"/api/votes/{vote_id}/ballots", {"choice": "no", "receipt": receipt})
    assert (checked.status_code, changed.status_code) == (404, 404)
    with deployed.read() as session:
        assert voting_queries.check_receipt(session, session.get(Vote, vote_id), receipt)["current"] is True


def test_a_retry_sent_at_the_same_moment_as_its_first_try_gets_the_same_receipt(deployed: Engine, community: Community) -> None:
    """Two requests with one idempotency key racing (a client that retries on a slow answer): the one that loses the
    insert is decided again on what the other wrote, so both get the receipt and one ballot is cast."""
    instance_id, vote_id = open_vote(deployed, community)
    key, gate, answers = str(uuid.uuid4()), threading.Barrier(4), []

    def cast() -> None:
        gate.wait()
        try:
            answers.append(deployed.execute_as(community.tokens["alice"], CastBallot(vote_id, "yes", key)).receipt)
        except Exception as exc:  # noqa: BLE001 — collected: the test says which
            answers.append(exc)

    threads = [threading.Thread(target=cast) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == 4 and all(isinstance(answer, str) for answer in answers), answers
    assert len(set(answers)) == 1
    with deployed.read() as session:
        assert session.scalar(select(func.count()).select_from(Ballot).where(Ballot.vote_id == vote_id)) == 1
