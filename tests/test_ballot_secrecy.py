"""The database administrator's attack on a secret vote: read every column of every table and try
a dictionary of every possible choice, and pair nothing with a voter.

Measured before the fix: ``participations.request_hash`` was ``sha256("yishi-request|" +
repr((choice, None)))``; three hashes decoded every unchanged online ballot. Now whatever a
participation keeps of a request is keyed by the client's idempotency key *and* a server secret
kept outside the database (``engine.voting.seals``): even an attacker who knows every client's
key (guessable keys, on purpose here) and the construction decodes nothing without that secret.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

from sqlalchemy import inspect, select, text

from engine.voting.commands import CastBallot, EnterPaperBallot
from engine.identity.actors import actor_for
from engine.kernel.models import Base
from engine.voting.models import Ballot, Vote
from engine.identity.models import Member
from engine.bootstrap import Engine
from engine.voting.seals import BallotSeal
from tests.builders import add_member, open_vote
from tests.helpers import Community

CHOICES = ("yes", "no", "abstain")


def _encodings(choice: Any, previous: Any) -> set[str]:
    """What an unkeyed digest of a request could have been: every form we or a careless successor might hash."""
    forms = [repr((choice, previous)), repr(choice), json.dumps(choice), json.dumps([choice, previous]), str(choice),
             "yishi-request|" + repr((choice, previous))]
    return {getattr(hashlib, name)(form.encode()).hexdigest() for form in forms for name in ("sha256", "sha1", "md5")}


def _stored_values(value: Any) -> list[str]:
    """Every scalar in a stored value, JSON documents opened."""
    if isinstance(value, dict):
        return [v for item in value.values() for v in _stored_values(item)]
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _stored_values(item)]
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return _stored_values(json.loads(value))
        except ValueError:
            pass
    return [] if value is None else [str(value)]


def test_a_database_reader_finds_no_choice_beside_any_voter(deployed: Engine, community: Community) -> None:
    for n in range(9):
        add_member(deployed, community, f"neighbour{n}", ["resident"])
    instance_id, vote_id = open_vote(deployed, community)
    keys: dict[str, str] = {}
    receipts: dict[int, str] = {}
    with deployed.read() as session:
        everyone = [actor_for(m) for m in session.scalars(select(Member).where(Member.community_id == community.id).order_by(Member.id))
                    if "resident" in m.roles and m.name != "bob"]
    for i, voter in enumerate(everyone):
        key = keys[voter.name] = f"ballot-of-{voter.name}-0000"  # guessable, on purpose
        receipts[voter.member_id] = deployed.execute(CastBallot(vote_id, CHOICES[i % 3], key), voter).receipt
    changer = everyone[0]
    keys[changer.name + "/change"] = f"change-of-{changer.name}-001"
    deployed.execute(CastBallot(vote_id, "abstain", keys[changer.name + "/change"], receipts[changer.member_id]), changer)
    deployed.execute(EnterPaperBallot(vote_id, community["bob"].member_id, "no"), community["clerk"])

    # The attacker's dictionary: every unkeyed form, and the real construction under every key the
    # clients used, with every server secret the attacker might guess instead of the real one.
    dictionary = {digest: choice for choice in CHOICES for previous in (None, *receipts.values())
                  for digest in _encodings(choice, previous)}
    for secret, key, choice, previous in itertools.product((b"", b"\0" * 32, b"yishi"), keys.values(), CHOICES,
                                                           (None, *receipts.values())):
        dictionary[BallotSeal(secret).request_key(vote_id, key).request(choice, previous)] = choice

    with deployed.read() as session:
        found = []
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)).mappings():
                for column, value in row.items():
                    for stored in _stored_values(value):
                        if stored in dictionary:
                            found.append((table.name, column, dictionary[stored]))
                        elif stored in CHOICES and table.name not in ("ballots", "definitions"):  # a ballot names no voter; a definition's forms list the options
                            found.append((table.name, column, stored))
        assert found == []
        ballots = list(session.execute(select(Ballot.voter_key, Ballot.choice).where(Ballot.vote_id == vote_id)))
        assert len(ballots) == len(everyone) + 1 and all(voter_key is None for voter_key, _ in ballots)
        assert session.get(Vote, vote_id).result is None  # no running tally before the close
        if session.bind.dialect.name == "sqlite":
            names = {name for (name,) in session.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))}
            assert names >= {t.name for t in Base.metadata.sorted_tables}  # every table was read
        else:
            assert set(inspect(session.bind).get_table_names()) >= {t.name for t in Base.metadata.sorted_tables}
