"""A voter who lost their voting key before voting registers another in its place (docs/ballot-encryption.md §5):
``POST /api/votes/{id}/credentials`` with ``replace``, only while no ballot was cast for their entry (online or on
paper); ``credentials/mine`` says whether it still may (``replaceable``); one ``credential_registered`` event, without
the key; a ballot made under the old key is refused afterwards; a replacement and a cast under the old key racing
each other in real threads: exactly one wins, through the single cast and the API's batched one. And the bound on audits per
voter (§6, ``ceremony.MAX_AUDITS``): at the bound and one beyond, counted from the history. SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select

from engine.bootstrap import Engine
from engine.kernel.commands import CompleteTask
from engine.kernel.errors import Conflict, InvalidInput
from engine.voting import ceremony, checked_ballots, encrypted_casting
from engine.voting.commands import CastEncryptedBallot, CastEncryptedPaperBallot, RegisterCredential
from engine.voting.encryption import ballots as eb
from engine.voting.encryption import encoding
from engine.voting.encryption.group import base_mul, random_scalar
from engine.voting.models import AuditedBallot, EncryptedBallot, Participation, VoterCredential
from tests.builders import events_of, ready
from tests.encrypted_ceremony import EncryptedVote, encrypt, encrypted_vote, register
from tests.fixtures import bearer
from tests.helpers import Community


def key() -> tuple[Any, str]:
    secret = random_scalar()
    return secret, encoding.hx(base_mul(secret))


def post_credential(client: Any, token: str, vote_id: str, credential: str, **extra: Any) -> Any:
    return client.post(f"/api/votes/{vote_id}/credentials", headers=bearer(token), json={"credential": credential, **extra})


def mine(client: Any, token: str, vote_id: str) -> dict[str, Any]:
    return client.get(f"/api/votes/{vote_id}/credentials/mine", headers=bearer(token)).get_json()


def registered(engine: Engine, vote: EncryptedVote) -> dict[str, str]:
    with engine.read() as session:
        return {row.voter_key: row.credential for row in session.scalars(
            select(VoterCredential).where(VoterCredential.vote_id == vote.vote_id))}


def test_a_lost_key_is_replaced_only_while_no_ballot_was_cast(client: Any, deployed: Engine, community: Community) -> None:
    vote = encrypted_vote(deployed, community)
    token = community.tokens["alice"]
    old_secret, old = key()
    assert post_credential(client, token, vote.vote_id, old).status_code == 201
    assert mine(client, token, vote.vote_id)["replaceable"] is True
    new_secret, new = key()
    plain = post_credential(client, token, vote.vote_id, new)  # without ``replace``: as before
    assert plain.status_code == 409 and "registered for you" in plain.get_json()["error"]["message"]
    carol = register(deployed, community, vote, "carol")
    theirs = post_credential(client, token, vote.vote_id, encoding.hx(base_mul(carol)), replace=True)
    assert theirs.status_code == 409 and "another voter's" in theirs.get_json()["error"]["message"]
    assert post_credential(client, token, vote.vote_id, "zz", replace=True).status_code == 422
    assert post_credential(client, token, vote.vote_id, new, replace="perhaps").status_code == 422
    assert post_credential(client, community.tokens["clerk"], vote.vote_id, new, replace=True).status_code == 403
    assert old in registered(deployed, vote).values()

    answer = post_credential(client, token, vote.vote_id, new, replace=True)
    assert answer.status_code == 201 and answer.get_json()["credential"] == new
    assert post_credential(client, token, vote.vote_id, new, replace=True).status_code == 201  # a retry: the same
    assert mine(client, token, vote.vote_id)["credential"] == new
    with deployed.read() as session:
        events = [e.input for e in events_of(session, vote.instance_id) if e.type == "credential_registered"
                  and e.actor_id == community["alice"].member_id]
    assert events == [{"vote_id": vote.vote_id}, {"vote_id": vote.vote_id, "replaced": True}]  # no key in the history

    stale = encrypt(vote, old_secret, "yes")[0]
    refused = client.post(f"/api/votes/{vote.vote_id}/encrypted-ballots", headers=bearer(token), json={"ballot": stale.to_json()})
    assert refused.status_code == 422  # the lost key signs nothing any more
    fresh = encrypt(vote, new_secret, "no")[0]
    assert client.post(f"/api/votes/{vote.vote_id}/encrypted-ballots", headers=bearer(token),
                       json={"ballot": fresh.to_json()}).status_code == 201
    assert mine(client, token, vote.vote_id)["replaceable"] is False
    _, another = key()
    used = post_credential(client, token, vote.vote_id, another, replace=True)
    assert used.status_code == 409 and used.get_json()["error"]["message"] == ceremony.CREDENTIAL_USED
    assert new in registered(deployed, vote).values()

    deployed.execute(CompleteTask(ready(deployed, vote.instance_id)["voting"], {"reason": "Enough."}), community["chair"])
    assert post_credential(client, community.tokens["bob"], vote.vote_id, another, replace=True).status_code == 409


def test_a_paper_voter_cannot_replace_the_key_the_paper_ballot_took(client: Any, deployed: Engine,
                                                                   community: Community) -> None:
    vote = encrypted_vote(deployed, community)
    register(deployed, community, vote, "bob")
    secret, credential = key()
    deployed.execute(CastEncryptedPaperBallot(vote.vote_id, community["bob"].member_id, credential,
                                              encrypt(vote, secret, "yes")[0].to_json()), community["clerk"])
    assert mine(client, community.tokens["bob"], vote.vote_id)["replaceable"] is False
    refused = post_credential(client, community.tokens["bob"], vote.vote_id, key()[1], replace=True)
    assert refused.status_code == 409
    assert credential in registered(deployed, vote).values()


@pytest.mark.parametrize("path", ["alone", "together"])
def test_a_replacement_racing_a_cast_under_the_old_key_exactly_one_wins(
        deployed: Engine, community: Community, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """Both pass their checks before either takes the vote's casting lock (a barrier makes sure, on PostgreSQL;
    SQLite's units of work take turns): the cast wins and the replacement is refused, or the other way round —
    never both (that would count the old key's ballot and let the new key vote again)."""
    concurrent = deployed.db.engine.dialect.name == "postgresql"
    token = community.tokens["alice"]
    locking = (encrypted_casting, "_lock_trackers") if path == "together" else (ceremony, "_lock_tracker")
    unused, lock = ceremony._unused_credential, getattr(*locking)
    for _ in range(3):
        vote = encrypted_vote(deployed, community)
        old_secret = register(deployed, community, vote, "alice")
        ballot = encrypt(vote, old_secret, "yes")[0]
        _, new = key()
        gate, outcomes = threading.Barrier(2, timeout=20), {}

        def checked_then_locked(original: Any) -> Any:
            waited = []

            def wrapper(*args: Any) -> Any:
                if concurrent and not waited:  # a batch locks each of its trackers: it waits before the first
                    waited.append(gate.wait())
                return original(*args)
            return wrapper

        monkeypatch.setattr(ceremony, "_unused_credential", checked_then_locked(unused))
        monkeypatch.setattr(*locking, checked_then_locked(lock))
        cast = CastEncryptedBallot(vote.vote_id, ballot.to_json())
        bobs = CastEncryptedBallot(vote.vote_id, encrypt(vote, register(deployed, community, vote, "bob"), "no")[0].to_json())

        def together(alices: CastEncryptedBallot) -> Any:
            """Alice's and Bob's first ballots in one batch (``encrypted_casting``), each checked ahead as the API does;
            one the batch leaves aside is cast alone, as ``Engine.execute_together`` would."""
            for command in (alices, bobs):
                checked_ballots.check_ahead(deployed.read, vote.vote_id, command.ballot)
            first = deployed.run_together(CastEncryptedBallot, [(token, alices), (community.tokens["bob"], bobs)])[0]
            return deployed.execute_as(token, alices) if first is None else first
        commands = {"cast": lambda: together(cast) if path == "together" else deployed.execute_as(token, cast),
                    "replace": lambda: deployed.execute_as(token, RegisterCredential(vote.vote_id, new, True))}

        def run(name: str) -> None:
            try:
                outcomes[name] = commands[name]()
            except Exception as exc:  # noqa: BLE001 — collected: the test says which
                outcomes[name] = exc

        threads = [threading.Thread(target=run, args=(name,)) for name in commands]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        monkeypatch.undo()
        assert not any(t.is_alive() for t in threads) and not gate.broken
        refused = [name for name, outcome in outcomes.items() if isinstance(outcome, Exception)]
        assert len(refused) == 1 and isinstance(outcomes[refused[0]], Conflict | InvalidInput), outcomes
        with deployed.read() as session:
            ballots = session.scalars(select(EncryptedBallot.credential).where(
                EncryptedBallot.vote_id == vote.vote_id, EncryptedBallot.credential != encoding.hx(
                    eb.Ballot.from_json(bobs.ballot).credential))).all()
            voted = session.scalars(select(Participation.voter_key).where(
                Participation.vote_id == vote.vote_id, Participation.member_id == community["alice"].member_id)).all()
        now = set(registered(deployed, vote).values())
        if refused == ["replace"]:
            assert outcomes["replace"].message == ceremony.CREDENTIAL_USED
            assert len(ballots) == len(voted) == 1 and ballots[0] in now and new not in now
        else:
            assert ballots == [] and voted == [] and new in now


def test_audits_are_bounded_per_voter(client: Any, deployed: Engine, community: Community) -> None:
    vote = encrypted_vote(deployed, community)
    url = f"/api/votes/{vote.vote_id}/audited-ballots"

    def audit(name: str, tracker: str) -> Any:
        return client.post(url, headers=bearer(community.tokens[name]), json={"tracker": tracker})

    trackers = [f"{n:064x}" for n in range(ceremony.MAX_AUDITS + 2)]
    for tracker in trackers[:ceremony.MAX_AUDITS]:
        assert audit("alice", tracker).status_code == 201
    assert audit("alice", trackers[0]).status_code == 201  # one already audited: answered again, not counted
    beyond = audit("alice", trackers[-1])
    assert beyond.status_code == 409, beyond.get_json()
    assert beyond.get_json()["error"]["message"] == (
        f"you have audited {ceremony.MAX_AUDITS} ballots in this vote, the most one voter may: cast your ballot")
    assert audit("bob", trackers[-1]).status_code == 201  # the bound is each voter's
    chinese = client.post(url, headers={**bearer(community.tokens["alice"]), "Accept-Language": "zh-CN"},
                          json={"tracker": trackers[-2]})
    assert chinese.status_code == 409 and "20" in chinese.get_json()["error"]["message"]
    assert "cast" not in chinese.get_json()["error"]["message"]  # said in Chinese
    with deployed.read() as session:
        listed = set(session.scalars(select(AuditedBallot.tracker).where(AuditedBallot.vote_id == vote.vote_id)))
    assert listed == set(trackers[:ceremony.MAX_AUDITS]) | {trackers[-1]}
    secret = register(deployed, community, vote, "alice")
    ballot = encrypt(vote, secret, "yes")[0]  # the bound stops audits, never the vote
    assert client.post(f"/api/votes/{vote.vote_id}/encrypted-ballots", headers=bearer(community.tokens["alice"]),
                       json={"ballot": ballot.to_json()}).status_code == 201
    assert eb.tracker(ballot) not in listed
