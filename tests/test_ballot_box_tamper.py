"""Tampering with a vote's ballot box — participations, ballots, replaced receipts, the electorate —
is caught by ``verify`` (the check ``yishi verify`` and the offline bundle verifier run), and located.

The history says who voted and how often they changed their ballot, never what; the rows must
agree with it. Each case plays the database administrator: straight to the tables, no engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update

from engine.voting.commands import CastBallot, EnterPaperBallot
from engine.audit.bundles import export
from engine.audit.offline.verify import Verdict, verify
from engine.kernel.clock import ManualClock
from engine.voting.models import Ballot, ElectorateEntry, Participation, ReplacedBallot
from engine.bootstrap import Engine
from tests.builders import close_by_deadline, open_vote
from tests.helpers import Community


@dataclass
class Box:
    engine: Engine
    clock: ManualClock
    community: Community
    instance_id: str
    vote_id: str

    def verify(self, public: bool) -> Verdict:
        with self.engine.read() as session:
            bundle = export(session, self.community.id, instance_id=self.instance_id, public=public,
                            now=self.clock.now(), public_keys={})
        return verify(bundle, replay=False)

    def sql(self, *statements: Any) -> None:
        with self.engine.db.engine.begin() as connection:
            for statement in statements:
                connection.execute(statement)

    def key(self, name: str) -> str:
        return f"m:{self.community[name].member_id}"


@pytest.fixture
def box(deployed: Engine, community: Community, clock: ManualClock) -> Box:
    """A secret vote: alice votes and changes her ballot, bob votes online, carol on paper."""
    instance_id, vote_id = open_vote(deployed, community)
    first = deployed.execute(CastBallot(vote_id, "yes"), community["alice"])
    deployed.execute(CastBallot(vote_id, "no", previous_receipt=first.receipt), community["alice"])
    deployed.execute(CastBallot(vote_id, "no"), community["bob"])
    deployed.execute(EnterPaperBallot(vote_id, community["carol"].member_id, "yes"), community["clerk"])
    return Box(deployed, clock, community, instance_id, vote_id)


@dataclass(frozen=True)
class Caught:
    """The words the first problem must hold, in a full bundle and (None: a public one cannot tell) in a public one."""

    full: str
    public: str | None


def lose_a_change(b: Box) -> Caught:
    """The lost update's signature: two changes were acknowledged, the row counts one fewer."""
    b.sql(update(Participation).where(Participation.vote_id == b.vote_id, Participation.voter_key == b.key("alice")).values(changes=0))
    return Caught("the history records 1 changed ballots, the rows count 0", "the history records 1 changed ballots, its votes' rows count 0")


def delete_a_ballot(b: Box) -> Caught:
    with b.engine.read() as session:
        some = session.scalars(select(Ballot.id).where(Ballot.vote_id == b.vote_id)).first()
    b.sql(delete(Ballot).where(Ballot.id == some))
    return Caught("2 ballots are stored for the 3 voters who took part", "2 ballots are stored for the 3 voters who took part")


def delete_a_participation(b: Box) -> Caught:
    b.sql(delete(Participation).where(Participation.vote_id == b.vote_id, Participation.voter_key == b.key("bob")))
    return Caught("3 ballots are stored for the 2 voters who took part", "3 ballots are stored for the 2 voters who took part")


def slip_in_a_ballot(b: Box) -> Caught:
    """A ballot and a participation for the chair, with no event: the counts agree with each other, not with the history."""
    b.sql(insert(Participation).values(vote_id=b.vote_id, voter_key=b.key("chair"), member_id=b.community["chair"].member_id,
                                       channel="online", cast_at=b.clock.now(), changes=0),
          insert(Ballot).values(id="f" * 32, vote_id=b.vote_id, fingerprint="e" * 64, choice="yes", weight="1"))
    return Caught("the history records 3 first ballots, the rows count 4", "the history records 3 first ballots, its votes' rows count 4")


def forget_a_replaced_receipt(b: Box) -> Caught:
    b.sql(delete(ReplacedBallot).where(ReplacedBallot.vote_id == b.vote_id))
    return Caught("0 ballots were replaced, but the participations count 1 changes", "0 ballots were replaced, but the participations count 1 changes")


def pin_a_participation_on_another_member(b: Box) -> Caught:
    """Bob's participation now says the chair cast it: the counts still agree, the voters do not."""
    b.sql(update(Participation).where(Participation.vote_id == b.vote_id, Participation.voter_key == b.key("bob"))
          .values(member_id=b.community["chair"].member_id))
    return Caught(f"the participation of {b.key('bob')} matches 0 first-ballot events of its voter, not one", None)


def add_a_voter_to_the_electorate(b: Box) -> Caught:
    b.sql(insert(ElectorateEntry).values(vote_id=b.vote_id, voter_key="m:999", label="Nobody", weight="1"))
    return Caught("its frozen electorate was changed after the vote opened", None)


def reweigh_a_voter(b: Box) -> Caught:
    b.sql(update(ElectorateEntry).where(ElectorateEntry.vote_id == b.vote_id, ElectorateEntry.voter_key == b.key("bob"))
          .values(weight="3"))
    return Caught("its frozen electorate was changed after the vote opened", None)


def revive_a_replaced_ballot(b: Box) -> Caught:
    """After the close, alice's replaced ballot is put back on the board in place of her current one."""
    close_by_deadline(b.engine, b.clock, b.instance_id)
    with b.engine.read() as session:
        (replaced,) = session.scalars(select(ReplacedBallot.fingerprint).where(ReplacedBallot.vote_id == b.vote_id))
    b.sql(insert(Ballot).values(id="f" * 32, vote_id=b.vote_id, fingerprint=replaced, choice="yes", weight="1"))
    return Caught("a ballot replaced by a later one is still on the board", "a ballot replaced by a later one is still on the board")


TAMPERINGS: dict[str, Callable[[Box], Caught]] = {
    "a change lost from the count": lose_a_change,
    "a ballot deleted": delete_a_ballot,
    "a participation deleted": delete_a_participation,
    "a ballot and a participation slipped in": slip_in_a_ballot,
    "a replaced receipt forgotten": forget_a_replaced_receipt,
    "a participation pinned on another member": pin_a_participation_on_another_member,
    "a voter added to the frozen electorate": add_a_voter_to_the_electorate,
    "a voter's weight changed": reweigh_a_voter,
    "a replaced ballot revived after the close": revive_a_replaced_ballot,
}


def test_the_untouched_ballot_box_verifies(box: Box) -> None:
    for public in (False, True):
        verdict = box.verify(public)
        assert verdict.ok, verdict.problems
        assert verdict.counts["ballot boxes"] == 1


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_tampering_with_a_ballot_box_is_caught_and_located(box: Box, tamper: Callable[[Box], Caught]) -> None:
    caught = tamper(box)
    for public, words in ((False, caught.full), (True, caught.public)):
        verdict = box.verify(public)
        problems = [p for p in verdict.problems if p.check == "ballots"]
        if words is None:
            continue
        assert not verdict.ok and problems, verdict.problems
        assert any(words in p.message for p in problems), problems
        assert all(p.instance == box.instance_id for p in problems), problems
        assert all(p.record is None or p.record == f"vote {box.vote_id}" for p in problems), problems
