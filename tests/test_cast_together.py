"""Ballots cast together (group commit): first ballots of many voters share one transaction, are
stored exactly as ballots cast one by one, and anything but a plain first ballot is left to the
single path, which answers it exactly. Through ``Engine.execute_together``, threads of one process that cast
at the same moment are written in one batch.

Every test runs on SQLite and on PostgreSQL (the ``database_url`` fixture).
"""

from __future__ import annotations

import shutil
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text

from engine.voting.commands import CastBallot
from engine.identity import actors
from engine.voting import casting
from engine.voting import queries as voting_queries
from engine.audit.bundles import export
from engine.audit.offline.verify import verify
from engine.kernel.clock import ManualClock
from engine.kernel.db import Database
from engine.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from engine.voting.models import Ballot, Participation, Vote
from engine.bootstrap import Engine, EngineConfig
from engine.voting.counting import board as bulletin
from tests.builders import add_member, ballot_events, close_by_deadline, count, identity_token, open_vote
from tests.helpers import Community, make_community

VOTERS = ("alice", "bob", "carol", "chair")


def voters(engine: Engine, community: Community, how_many: int) -> list[str]:
    """Tokens of ``how_many`` residents: the community's own, then new ones."""
    tokens = [community.tokens[name] for name in VOTERS]
    for i in range(len(tokens), how_many):
        tokens.append(identity_token(engine, community, add_member(engine, community, f"Resident {i}", ["resident"])))
    return tokens[:how_many]


def key() -> str:
    return str(uuid.uuid4())


def test_first_ballots_cast_together_are_stored_as_ballots_cast_one_by_one(
    deployed: Engine, community: Community, clock: ManualClock
) -> None:
    tokens = voters(deployed, community, 6)
    instance_id, vote_id = open_vote(deployed, community)
    choices = ["yes", "no", "abstain", "yes", "yes", "no"]
    keys = [key() for _ in tokens]
    together = deployed.run_together(CastBallot, [(t, CastBallot(vote_id, ch, k)) for t, ch, k in zip(tokens[:4], choices, keys)])
    alone = [deployed.execute_as(t, CastBallot(vote_id, ch, k)) for t, ch, k in zip(tokens[4:], choices[4:], keys[4:])]
    receipts = [*together, *alone]
    assert all(isinstance(r, casting.Receipt) and not r.changed for r in receipts)
    # A retry of a ballot written together gets its receipt back from the single path, sealed as it would be.
    assert deployed.execute_as(tokens[1], CastBallot(vote_id, "no", keys[1])) == receipts[1]

    with deployed.read() as session:
        events = ballot_events(session, instance_id)
        assert [e.type for e in events] == ["ballot_cast"] * 6
        assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + 6))
        assert {e.actor_id for e in events[:4]} == {community[name].member_id for name in VOTERS}
        assert all(e.input == {"vote_id": vote_id, "channel": "online"} for e in events)  # secret: no choice
        assert count(session, Participation, vote_id) == 6
        stored = {b.fingerprint: (b.choice, b.weight, b.voter_key) for b in session.scalars(select(Ballot).where(Ballot.vote_id == vote_id))}
        assert stored == {r.fingerprint: (ch, "1", None) for r, ch in zip(receipts, choices)}
        bundle = export(session, community.id, public=False, now=clock.now(), public_keys={})
    assert verify(bundle, trusted_keys={}).counts["events"] >= 6
    assert not [p for p in verify(bundle, trusted_keys={}).problems if p.check != "checkpoints"]

    close_by_deadline(deployed, clock, instance_id)
    with deployed.read() as session:
        board = voting_queries.bulletin_board(session, session.get(Vote, vote_id))
    assert bulletin.verify(board).ok
    assert {b["fingerprint"] for b in board["ballots"]} == {r.fingerprint for r in receipts}


def test_a_batch_writes_only_plain_first_ballots_and_leaves_every_other_to_the_single_path(
    deployed: Engine, community: Community, other_community: Community
) -> None:
    outsider = identity_token(deployed, community, add_member(deployed, community, "Clerk 2", ["committee"]))
    _, vote_id = open_vote(deployed, community)
    _, elsewhere = open_vote(deployed, other_community)
    alice, bob, carol, chair = (community.tokens[name] for name in VOTERS)
    shared = key()
    deployed.execute_as(carol, CastBallot(vote_id, "yes"))
    requests = [
        (alice, CastBallot(vote_id, "yes", shared)),  # plain
        (bob, CastBallot(vote_id, "no", shared)),  # the same key in the same vote: left aside
        (alice, CastBallot(vote_id, "no")),  # alice twice in the batch
        (carol, CastBallot(vote_id, "no")),  # carol has voted
        ("no-such-token", CastBallot(vote_id, "yes")),
        (outsider, CastBallot(vote_id, "yes")),  # not in the electorate
        (chair, CastBallot(vote_id, "maybe")),  # a choice the vote refuses
        (chair, CastBallot(vote_id, "yes", "short")),  # an idempotency key too short
        (chair, CastBallot(elsewhere, "yes")),  # another community's vote
        (chair, CastBallot("no-such-vote", "yes")),
    ]
    outcomes = deployed.run_together(CastBallot, requests)
    assert isinstance(outcomes[0], casting.Receipt)
    assert outcomes[1:] == [None] * (len(requests) - 1)

    # What the single path (``Engine.execute_together`` runs it for each None) answers them.
    expected = [None, Conflict, Conflict, Conflict, Unauthenticated, PermissionDenied, InvalidInput, InvalidInput, NotFound, NotFound]
    for (token, cast), error in zip(requests[1:], expected[1:]):
        with pytest.raises(error):
            deployed.execute_together(token, cast)
    with deployed.read() as session:
        assert count(session, Participation, vote_id) == 2
        assert count(session, Ballot, vote_id) == 2


def test_in_a_household_vote_a_batch_casts_once_per_household_and_only_for_its_residents(
    deployed: Engine, community: Community
) -> None:
    members = {name: add_member(deployed, community, name, roles, household=household) for name, roles, household in (
        ("dad", ["resident"], "5-101"), ("mum", ["resident"], "5-101"), ("lodger", ["resident"], "5-102"),
        ("landlord", ["owner"], "5-102"), ("drifter", ["resident"], None))}
    tokens = {name: identity_token(deployed, community, member) for name, member in members.items()}
    instance_id, vote_id = open_vote(deployed, community, electorate="households")
    names = ["landlord", "dad", "mum", "drifter", "lodger"]
    outcomes = deployed.run_together(CastBallot, [(tokens[name], CastBallot(vote_id, "yes")) for name in names])
    assert [isinstance(o, casting.Receipt) for o in outcomes] == [False, True, False, False, True]
    with pytest.raises(PermissionDenied, match="electorate"):
        deployed.execute_together(tokens["landlord"], CastBallot(vote_id, "yes"))
    with pytest.raises(Conflict, match="household"):
        deployed.execute_together(tokens["mum"], CastBallot(vote_id, "no"))
    with pytest.raises(PermissionDenied, match="electorate"):
        deployed.execute_together(tokens["drifter"], CastBallot(vote_id, "yes"))
    with deployed.read() as session:
        voted = {p.voter_key: p.member_id for p in session.scalars(select(Participation).where(Participation.vote_id == vote_id))}
        assert voted == {"h:5-101": members["dad"].member_id, "h:5-102": members["lodger"].member_id}
        assert [e.actor_id for e in ballot_events(session, instance_id)] == [members["dad"].member_id, members["lodger"].member_id]


def test_a_batch_that_fails_writes_nothing_and_each_ballot_is_cast_alone(
    deployed: Engine, community: Community, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a concurrent writer (another process's batch, a teller) can take a voter
    between the batch's reads and its writes; the participation it wrote is simulated here in the
    batch's own transaction, just before the batch writes. The batch then fails as a whole, nothing
    of it stays, and each ballot is cast alone."""
    instance_id, vote_id = open_vote(deployed, community)
    alice, bob = community.tokens["alice"], community.tokens["bob"]
    real = casting._write_together

    def bob_voted_meanwhile(uow: Any, plain: Any, count_: int) -> Any:
        uow.session.connection().execute(insert(Participation).values(
            vote_id=vote_id, voter_key=f"m:{community['bob'].member_id}", member_id=community["bob"].member_id,
            channel="paper", cast_at=uow.now, changes=0))
        return real(uow, plain, count_)

    monkeypatch.setattr(casting, "_write_together", bob_voted_meanwhile)
    assert deployed.run_together(CastBallot, [(alice, CastBallot(vote_id, "yes")), (bob, CastBallot(vote_id, "yes"))]) == [None, None]
    monkeypatch.undo()
    with deployed.read() as session:
        assert ballot_events(session, instance_id) == []
        assert count(session, Participation, vote_id) == count(session, Ballot, vote_id) == 0
    receipts = [deployed.execute_together(token, CastBallot(vote_id, "yes")) for token in (alice, bob)]
    assert all(isinstance(r, casting.Receipt) for r in receipts)


def test_a_key_an_earlier_ballot_used_fails_the_batch_and_the_single_path_names_it(deployed: Engine, community: Community) -> None:
    """The batch does not look for keys used before: the unique index refuses one at the insert."""
    _, vote_id = open_vote(deployed, community)
    alice, bob, carol = (community.tokens[name] for name in ("alice", "bob", "carol"))
    used = key()
    deployed.execute_as(carol, CastBallot(vote_id, "yes", used))
    assert deployed.run_together(CastBallot, [(alice, CastBallot(vote_id, "yes")), (bob, CastBallot(vote_id, "no", used))]) == [None, None]
    assert isinstance(deployed.execute_together(alice, CastBallot(vote_id, "yes")), casting.Receipt)
    with pytest.raises(Conflict, match="idempotency key was already used"):
        deployed.execute_together(bob, CastBallot(vote_id, "no", used))


def test_the_batch_with_the_last_voters_closes_a_vote_that_closes_when_all_have_voted(
    deployed: Engine, community: Community
) -> None:
    tokens = voters(deployed, community, 7)
    instance_id, vote_id = open_vote(deployed, community, close_when_all_voted=True)
    with deployed.read() as session:
        assert session.get(Vote, vote_id).eligible_heads == 7
    deployed.execute_as(tokens[0], CastBallot(vote_id, "yes"))
    outcomes = deployed.run_together(CastBallot, [(t, CastBallot(vote_id, "yes")) for t in tokens[1:]])
    assert all(isinstance(o, casting.Receipt) for o in outcomes)
    with deployed.read() as session:
        vote = session.get(Vote, vote_id)
        assert vote.status == "closed"
        assert vote.result["outcome"] == "passed"


def test_ballots_of_a_batch_are_stored_in_an_order_unrelated_to_their_voters(deployed: Engine, community: Community) -> None:
    """Participations are written in the batch's order; ballots in a random one, so that neither
    PostgreSQL's physical order nor SQLite's key order pairs them."""
    tokens = voters(deployed, community, 24)
    _, vote_id = open_vote(deployed, community)
    receipts = deployed.run_together(CastBallot, [(t, CastBallot(vote_id, "yes")) for t in tokens])
    order = {r.fingerprint: i for i, r in enumerate(receipts)}
    with deployed.read() as session:
        physical = "ctid" if session.bind.dialect.name == "postgresql" else "id"
        stored = session.execute(text(f"SELECT fingerprint FROM ballots WHERE vote_id = :v ORDER BY {physical}"), {"v": vote_id})
        positions = [order[fingerprint] for (fingerprint,) in stored]
    assert sorted(positions) == list(range(24))
    assert positions != list(range(24))  # a shuffle of 24 leaves them in order once in 6·10²³


def test_threads_casting_at_the_same_moment_are_written_in_one_batch(
    deployed: Engine, community: Community, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = voters(deployed, community, 5)
    _, vote_id = open_vote(deployed, community)
    batches: list[int] = []
    first_writing, others_waiting = threading.Event(), threading.Event()
    real_execute_as, real_together = deployed.execute_as, casting.cast_together

    def slow_first(token: str, command: Any) -> Any:  # the first ballot is written while the others arrive
        first_writing.set()
        assert others_waiting.wait(10)
        return real_execute_as(token, command)

    def counted(uow: Any, seal: Any, requests: Any) -> Any:
        batches.append(len(requests))
        return real_together(uow, seal, requests)

    monkeypatch.setattr(deployed, "execute_as", slow_first)
    monkeypatch.setattr(casting, "cast_together", counted)
    outcomes: dict[int, Any] = {}

    def cast(i: int) -> None:
        outcomes[i] = deployed.execute_together(tokens[i], CastBallot(vote_id, "no"))

    first = threading.Thread(target=cast, args=(0,))
    first.start()
    assert first_writing.wait(10)
    others = [threading.Thread(target=cast, args=(i,)) for i in range(1, 5)]
    for thread in others:
        thread.start()
    while len(deployed._together[CastBallot]._queue) < 4:
        threading.Event().wait(0.005)
    others_waiting.set()
    for thread in [first, *others]:
        thread.join(10)
    assert batches == [4]
    assert all(isinstance(outcomes[i], casting.Receipt) for i in range(5))
    with deployed.read() as session:
        assert count(session, Ballot, vote_id) == 5


def test_sqlite_reads_a_batch_by_its_tokens_not_by_the_whole_community(
    sqlite_template: Path, tmp_path: Path, clock: ManualClock
) -> None:
    """Joined plainly, without statistics, SQLite's planner read every member of the community (or
    every entry of the electorate) for a batch of a dozen tokens or more: the cost grew with the
    electorate. (A SQLite planner's choice: this test runs on SQLite only.)"""
    shutil.copy(sqlite_template, tmp_path / "plan.sqlite3")
    deployed = Engine(Database(f"sqlite:///{tmp_path / 'plan.sqlite3'}"), clock, EngineConfig(audit_key=tmp_path / "key.pem"))
    deployed.deploy_bundled()
    community = make_community(deployed, "harmony")
    tokens = voters(deployed, community, 20)
    _, vote_id = open_vote(deployed, community)
    statements: list[tuple[str, Any]] = []

    def note(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        statements.append((statement, parameters))

    params = {"token_hashes": [actors.hash_token(t) for t in tokens], "vote_ids": [vote_id]}
    with deployed.read() as session:
        connection = session.connection()
        event.listen(connection, "before_cursor_execute", note)
        assert len(connection.execute(casting._TARGETS, params).all()) == 20
        statement, parameters = statements[-1]
        plan = " | ".join(row[3] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
    assert "api_tokens USING INDEX sqlite_autoindex_api_tokens_1 (token_hash=?)" in plan
    assert "members USING INTEGER PRIMARY KEY" in plan
    assert "electorate USING INDEX sqlite_autoindex_electorate_1 (vote_id=? AND voter_key=?)" in plan
    deployed.db.dispose()
