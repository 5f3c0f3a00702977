"""Encrypted ballots on the fast path (``api.voting.fast_cast``), their proofs checked before the transaction
(``engine.voting.checked_ballots``), and the offline verifier checking a board on several processes
(``engine.audit.offline.encrypted_ballots``).

Refusals are compared byte for byte with the Flask route's (as ``tests/test_fast_cast.py`` does for plain
ballots); what is stored is the same whichever path cast it; and a verdict is the same on one process or two.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.test import Client

from engine.audit.offline import encrypted_ballots, encrypted_board
from engine.bootstrap import Engine
from engine.voting import checked_ballots
from engine.voting.commands import CastEncryptedBallot
from engine.voting.encryption import ballots as eb
from engine.voting.encryption import encoding
from engine.voting.encryption.group import Scalar, base_mul, random_scalar
from engine.voting.models import EncryptedBallot, Participation
from engine.kernel.errors import Conflict, InvalidInput
from tests.builders import add_member, events_of, identity_token
from tests.ceremonies import Trustees, encrypted_vote, vote_and_decrypt
from tests.fixtures import bearer
from tests.helpers import Community

THREE = ("chair", "clerk", "auditor")


def keyed(client: Any, deployed: Engine, community: Community) -> tuple[str, str, Trustees, eb.Election]:
    """An open encrypted vote whose trustees made the key: its instance, id, trustees and election."""
    instance_id, vote_id = encrypted_vote(deployed, community, THREE, 2)
    trustees = Trustees(client, community, vote_id, THREE, 2)
    trustees.deal()
    trustees.send()
    for j in trustees.devices:
        assert trustees.publish_key(j).status_code == 201
    return instance_id, vote_id, trustees, eb.Election.from_json(trustees.state()["election"])


def register(client: Any, token: str, vote_id: str) -> Scalar:
    secret = random_scalar()
    answer = client.post(f"/api/votes/{vote_id}/credentials", headers=bearer(token),
                         json={"credential": encoding.hx(base_mul(secret))})
    assert answer.status_code == 201, answer.get_json()
    return secret


def cast(client: Client, vote_id: str, token: str | None, body: Any) -> Any:
    headers = bearer(token) if token is not None else {}
    return client.post(f"/api/votes/{vote_id}/encrypted-ballots", headers=headers, json=body)


def same(fast: Any, slow: Any) -> None:
    assert fast.status_code == slow.status_code, (fast.get_data(), slow.get_data())
    assert fast.get_data() == slow.get_data()
    assert {k: v for k, v in fast.headers if k != "Date"} == {k: v for k, v in slow.headers if k != "Date"}


def altered(ballot: dict[str, Any]) -> dict[str, Any]:
    """The ballot with its first 0/1 proof's first challenge changed: its proofs no longer check."""
    changed = copy.deepcopy(ballot)
    c = encoding.scalar(changed["proofs"][0][0]["c"])
    changed["proofs"][0][0]["c"] = encoding.hx(c + Scalar(1))
    return changed


def test_encrypted_refusals_are_the_flask_routes_own(apps: tuple[Client, Client, list[int]], deployed: Engine,
                                                     community: Community) -> None:
    fast, slow, seen = apps
    _, vote_id, _, election = keyed(fast, deployed, community)
    alice, bob, carol = (community.tokens[n] for n in ("alice", "bob", "carol"))
    alice_secret, bob_secret = register(fast, alice, vote_id), register(fast, bob, vote_id)
    outsider = identity_token(deployed, community, add_member(deployed, community, "Olga", ["committee"]))
    good = eb.encrypt_ballot(election, alice_secret, "yes")[0].to_json()
    bobs = eb.encrypt_ballot(election, bob_secret, "no")[0].to_json()
    missing = {k: v for k, v in good.items() if k != "signature"}
    before = seen[0]
    cases = [
        (vote_id, carol, {"ballot": good}),                  # no credential registered: 409
        (vote_id, alice, {"ballot": bobs}),                  # another voter's credential: 422 ballot.credential
        (vote_id, alice, {"ballot": altered(good)}),         # a proof fails: 422
        (vote_id, alice, {"ballot": missing}),               # not a ballot: 422 from the decoder
        (vote_id, None, {"ballot": good}),                   # no token: 401 (Flask's)
        (vote_id, "ys_unknown", {"ballot": good}),           # unknown token: 401
        (vote_id, outsider, {"ballot": good}),               # not in the electorate: 403
        ("no-such-vote", alice, {"ballot": good}),           # 404
        (vote_id, alice, {"ballot": "not an object"}),       # the schema's 422 (Flask's)
        (vote_id, alice, {"ballot": good, "extra": 1}),      # unknown field (Flask's)
    ]
    for where, token, body in cases:
        same(cast(fast, where, token, body), cast(slow, where, token, body))
    assert seen[0] - before == 3  # the engine's seven refusals were the fast path's


def test_an_encrypted_cast_answers_as_the_flask_route_and_stores_the_same(
        apps: tuple[Client, Client, list[int]], deployed: Engine, community: Community) -> None:
    fast, slow, seen = apps
    _, vote_id, _, election = keyed(fast, deployed, community)
    alice, bob = community.tokens["alice"], community.tokens["bob"]
    secrets = {alice: register(fast, alice, vote_id), bob: register(fast, bob, vote_id)}
    before = seen[0]
    first = eb.encrypt_ballot(election, secrets[alice], "yes")[0]
    answers = [cast(fast, vote_id, alice, {"ballot": first.to_json()}),
               cast(slow, vote_id, bob, {"ballot": eb.encrypt_ballot(election, secrets[bob], "no")[0].to_json()})]
    assert [a.status_code for a in answers] == [201, 201] and seen[0] == before
    assert [{k: v for k, v in a.headers if k not in ("Date", "Content-Length")} for a in answers] == [
        {"Content-Type": "application/json"}] * 2
    assert answers[0].get_json() == {"vote_id": vote_id, "tracker": eb.tracker(first), "changed": False}
    retried = [cast(client, vote_id, alice, {"ballot": first.to_json()}) for client in (fast, slow)]
    same(*retried)
    assert retried[0].get_json() == answers[0].get_json()
    second = eb.encrypt_ballot(election, secrets[alice], "no")[0]
    changed = cast(fast, vote_id, alice, {"ballot": second.to_json()})
    assert changed.status_code == 201 and changed.get_json()["changed"] is True
    same(cast(fast, vote_id, alice, {"ballot": first.to_json()}), cast(slow, vote_id, alice, {"ballot": first.to_json()}))
    assert cast(fast, vote_id, alice, {"ballot": first.to_json()}).status_code == 409  # replaced: never again
    with deployed.read() as session:
        rows = {r.tracker: (r.replaced, r.ballot) for r in session.scalars(
            select(EncryptedBallot).where(EncryptedBallot.vote_id == vote_id))}
    assert set(rows) == {eb.tracker(first), eb.tracker(second), answers[1].get_json()["tracker"]}
    assert rows[eb.tracker(first)][0] and rows[eb.tracker(second)] == (False, second.to_json())


def test_a_ballot_checked_ahead_is_not_checked_again_and_one_that_was_not_is(
        client: Any, deployed: Engine, community: Community, monkeypatch: pytest.MonkeyPatch) -> None:
    _, vote_id, _, election = keyed(client, deployed, community)
    alice, bob = community["alice"], community["bob"]
    secrets = {m: register(client, community.tokens[name], vote_id) for m, name in ((alice, "alice"), (bob, "bob"))}
    checks: list[str] = []
    real = eb.verify_ballot
    monkeypatch.setattr(eb, "verify_ballot", lambda e, b: (checks.append(b.vote), real(e, b))[1])

    ahead = eb.encrypt_ballot(election, secrets[alice], "yes")[0].to_json()
    checked_ballots.check_ahead(deployed.read, vote_id, ahead)
    assert len(checks) == 1
    deployed.execute(CastEncryptedBallot(vote_id, ahead), alice)
    assert len(checks) == 1  # the transaction took the check made before it

    bad = altered(eb.encrypt_ballot(election, secrets[bob], "no")[0].to_json())
    checked_ballots.check_ahead(deployed.read, vote_id, bad)  # refused ahead: nothing remembered, nothing said
    with pytest.raises(InvalidInput, match="does not check"):
        deployed.execute(CastEncryptedBallot(vote_id, bad), bob)  # and checked again in the transaction
    assert len(checks) == 3
    checked_ballots.check_ahead(deployed.read, "no-such-vote", ahead)  # no vote, no election: nothing to do
    checked_ballots.check_ahead(deployed.read, vote_id, {"not": "a ballot"})


def test_a_remembered_ballot_counts_only_for_the_same_value_and_election(client: Any, deployed: Engine,
                                                                         community: Community) -> None:
    _, vote_id, _, election = keyed(client, deployed, community)
    ballot = eb.encrypt_ballot(election, random_scalar(), "yes")[0].to_json()
    assert checked_ballots.remembered(election, ballot) is None
    checked_ballots.check(election, ballot)
    assert checked_ballots.remembered(election, copy.deepcopy(ballot)) is not None
    as_tuples = {**ballot, "ciphertexts": tuple(ballot["ciphertexts"])}  # the same canonical JSON, another value
    assert checked_ballots.remembered(election, as_tuples) is None
    other = eb.make_election(f"{vote_id}-other", election.key, "yes_no_abstain", [], 2, list(election.trustees))
    assert checked_ballots.remembered(other, ballot) is None
    assert checked_ballots.remembered(election, {"a": float("nan")}) is None


def test_concurrent_voters_cast_through_the_fast_path(apps: tuple[Client, Client, list[int]], deployed: Engine,
                                                      community: Community) -> None:
    """Real threads: every voter's ballot checked side by side and stored once, one counted per voter."""
    fast, _, _ = apps
    _, vote_id, _, election = keyed(fast, deployed, community)
    names = ["alice", "bob", "carol", "chair"]
    ballots = {n: [eb.encrypt_ballot(election, s, c)[0].to_json() for c in ("yes", "no")]
               for n, s in ((n, register(fast, community.tokens[n], vote_id)) for n in names)}
    answers: list[int] = []

    def vote(name: str, index: int) -> None:
        answers.append(cast(fast, vote_id, community.tokens[name], {"ballot": ballots[name][index]}).status_code)

    threads = [threading.Thread(target=vote, args=(n, i)) for n in names for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers).count(201) >= len(names) and set(answers) <= {201, 409}
    with deployed.read() as session:
        rows = [(r.credential, r.replaced) for r in session.scalars(
            select(EncryptedBallot).where(EncryptedBallot.vote_id == vote_id))]
    counted = sorted(c for c, replaced in rows if not replaced)
    assert counted == sorted({c for c, _ in rows}) and len(counted) == len(names)


def test_a_board_verifies_the_same_on_one_process_or_two(client: Any, deployed: Engine, community: Community,
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    instance_id, vote_id = encrypted_vote(deployed, community, THREE, 2)
    trustees = Trustees(client, community, vote_id, THREE, 2)
    trustees.deal()
    trustees.send()
    for j in trustees.devices:
        assert trustees.publish_key(j).status_code == 201
    board = vote_and_decrypt(client, deployed, community, trustees, instance_id, {j: trustees.devices[j].x for j in (1, 2)})
    monkeypatch.setattr(encrypted_ballots, "SERIAL_BELOW", 0)  # three ballots in ranges of one on two processes
    alone, together = encrypted_board.verify(board, processes=1), encrypted_board.verify(board, processes=2)
    assert together.ok and (alone.ok, alone.problems, alone.counted, alone.recount) == (
        together.ok, together.problems, together.counted, together.recount)

    bad = copy.deepcopy(board)
    bad["ballots"][1]["ballot"] = altered(bad["ballots"][1]["ballot"])
    bad["ballots"][2]["tracker"] = "0" * 64
    verdicts = [encrypted_board.verify(bad, processes=p) for p in (1, 2)]
    assert not verdicts[1].ok and verdicts[0].problems == verdicts[1].problems
    named = board["ballots"][1]["tracker"][:12]
    assert any(p.startswith(f"ballot {named}…: the proof that") for p in verdicts[1].problems)
    assert any(p == "ballot 000000000000…: its tracker is not its hash" for p in verdicts[1].problems)
    assert verdicts[1].counted == 2  # the refused ballot is not counted, and the tally says it differs
    assert "the published tally is not the sum of the counted ballots" in verdicts[1].problems

    unreadable = copy.deepcopy(board)
    del unreadable["ballots"][2]["ballot"]["signature"]
    unreadable["ballots"][0]["ballot"] = altered(unreadable["ballots"][0]["ballot"])
    verdicts = [encrypted_board.verify(unreadable, processes=p) for p in (1, 2)]
    assert verdicts[0].problems == verdicts[1].problems and verdicts[1].problems[-1].startswith("the board cannot be read")


# ---- encrypted first ballots cast together (engine/voting/encrypted_casting.py) ----------------------------

def stored_rows(deployed: Engine, vote_id: str) -> dict[str, tuple[str, Any, str, bool, str]]:
    with deployed.read() as session:
        return {r.tracker: (r.credential, r.ballot, r.weight, r.replaced, r.channel) for r in session.scalars(
            select(EncryptedBallot).where(EncryptedBallot.vote_id == vote_id))}


def test_encrypted_first_ballots_cast_together_are_stored_as_ballots_cast_one_by_one(
        client: Any, deployed: Engine, community: Community) -> None:
    instance_id, vote_id, _, election = keyed(client, deployed, community)
    names = ["alice", "bob", "carol", "chair"]
    tokens = [community.tokens[n] for n in names]
    made = [eb.encrypt_ballot(election, register(client, t, vote_id), c)[0].to_json()
            for t, c in zip(tokens, ("yes", "no", "abstain", "yes"))]
    for ballot in made[:3]:
        checked_ballots.check_ahead(deployed.read, vote_id, ballot)
    together = deployed.run_together(CastEncryptedBallot, [(t, CastEncryptedBallot(vote_id, b)) for t, b in zip(tokens[:3], made)])
    alone = deployed.execute_as(tokens[3], CastEncryptedBallot(vote_id, made[3]))
    assert [c.tracker for c in [*together, alone]] == [eb.tracker(b) for b in made]
    assert all(c.vote_id == vote_id and c.changed is False for c in [*together, alone])
    rows = stored_rows(deployed, vote_id)
    assert {t: r[1] for t, r in rows.items()} == {eb.tracker(b): b for b in made}
    assert {(r[2], r[3], r[4]) for r in rows.values()} == {("1", False, "online")}
    with deployed.read() as session:
        participations = session.scalars(select(Participation).where(Participation.vote_id == vote_id)).all()
        assert sorted(p.member_id for p in participations) == sorted(community[n].member_id for n in names)
        assert {(p.channel, p.changes, p.teller_id, p.idempotency_hash) for p in participations} == {("online", 0, None, None)}
        events = [e for e in events_of(session, instance_id) if e.type == "ballot_cast"]
        assert [e.input for e in events] == [{"vote_id": vote_id, "channel": "online"}] * 4
        assert sorted(e.actor_id for e in events) == sorted(community[n].member_id for n in names)


def test_an_encrypted_batch_writes_only_plain_first_ballots_and_leaves_the_rest_to_the_single_path(
        client: Any, deployed: Engine, community: Community) -> None:
    _, vote_id, _, election = keyed(client, deployed, community)
    alice, bob, carol, chair = (community.tokens[n] for n in ("alice", "bob", "carol", "chair"))
    secrets = {t: register(client, t, vote_id) for t in (alice, bob, chair)}  # carol registers no credential
    first = eb.encrypt_ballot(election, secrets[alice], "yes")[0].to_json()
    deployed.execute_as(alice, CastEncryptedBallot(vote_id, first))
    ahead = {
        "change": eb.encrypt_ballot(election, secrets[alice], "no")[0].to_json(),     # alice has voted: a change
        "bob": eb.encrypt_ballot(election, secrets[bob], "no")[0].to_json(),          # plain: written by the batch
        "bob again": eb.encrypt_ballot(election, secrets[bob], "yes")[0].to_json(),   # bob twice in the batch
        "carol": eb.encrypt_ballot(election, secrets[chair], "yes")[0].to_json(),    # not carol's credential
    }
    for ballot in ahead.values():
        checked_ballots.check_ahead(deployed.read, vote_id, ballot)
    not_ahead = eb.encrypt_ballot(election, secrets[chair], "abstain")[0].to_json()  # never checked ahead
    requests = [(alice, ahead["change"]), (bob, ahead["bob"]), (bob, ahead["bob again"]), (carol, ahead["carol"]),
                (chair, not_ahead), ("ys_unknown", ahead["bob"]), (alice, first)]
    results = deployed.run_together(CastEncryptedBallot, [(t, CastEncryptedBallot(vote_id, b)) for t, b in requests])
    assert [r is not None for r in results] == [False, True, False, False, False, False, False]
    assert results[1].tracker == eb.tracker(ahead["bob"])
    assert set(stored_rows(deployed, vote_id)) == {eb.tracker(first), eb.tracker(ahead["bob"])}
    with pytest.raises(Conflict, match="register your credential"):  # what the single path says of one left aside
        deployed.execute_as(carol, CastEncryptedBallot(vote_id, ahead["carol"]))
    with pytest.raises(InvalidInput, match="another voter's credential"):
        deployed.execute_as(chair, CastEncryptedBallot(vote_id, ahead["bob again"]))


def test_an_audited_tracker_is_never_cast_together(client: Any, deployed: Engine, community: Community) -> None:
    from engine.voting.commands import AuditBallot

    _, vote_id, _, election = keyed(client, deployed, community)
    alice, bob = community.tokens["alice"], community.tokens["bob"]
    audited = eb.encrypt_ballot(election, register(client, alice, vote_id), "yes")[0].to_json()
    plain = eb.encrypt_ballot(election, register(client, bob, vote_id), "no")[0].to_json()
    deployed.execute_as(alice, AuditBallot(vote_id, eb.tracker(audited)))
    for ballot in (audited, plain):
        checked_ballots.check_ahead(deployed.read, vote_id, ballot)
    results = deployed.run_together(CastEncryptedBallot, [(alice, CastEncryptedBallot(vote_id, audited)),
                                                         (bob, CastEncryptedBallot(vote_id, plain))])
    assert results[0] is None and results[1] is not None
    assert set(stored_rows(deployed, vote_id)) == {eb.tracker(plain)}


def test_a_tally_added_up_on_threads_is_the_tally_added_up_on_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.voting.encryption import tally as et_tally
    from engine.voting.encryption.elgamal import encrypt

    key = base_mul(random_scalar())
    counted = [([encrypt(key, (i + slot) % 2)[0] for slot in range(3)], 1 + i % 3) for i in range(40)]
    monkeypatch.setattr(et_tally, "THREADED_FROM", 0)
    by_threads = {threads: et_tally.sums_by_weight(3, counted, threads) for threads in (1, 2, 3)}
    assert by_threads[1] == by_threads[2] == by_threads[3] and set(by_threads[1]) == {1, 2, 3}
    with pytest.raises(ValueError, match="wrong number of ciphertexts"):
        et_tally.sums_by_weight(3, [*counted, (counted[0][0][:2], 1)], 2)


def test_an_encrypted_batch_finds_credentials_and_trackers_by_primary_key(
        client: Any, deployed: Engine, community: Community) -> None:
    """Looked up as (vote, key) pairs, SQLite scanned every credential of every vote for each batch: the cost grew
    with the electorate. The lookup is one statement per vote, each of its parts by vote, on the primary key (or its
    unique index), on both backends."""
    from sqlalchemy import event

    _, vote_id, _, election = keyed(client, deployed, community)
    tokens = [community.tokens[n] for n in ("alice", "bob")]
    made = [eb.encrypt_ballot(election, register(client, t, vote_id), "yes")[0].to_json() for t in tokens]
    for ballot in made:
        checked_ballots.check_ahead(deployed.read, vote_id, ballot)
    statements: list[str] = []
    note = lambda conn, cursor, statement, *rest: statements.append(statement)  # noqa: E731
    event.listen(deployed.db.writer, "before_cursor_execute", note)  # the writer's engine (SQLite has its own)
    try:
        results = deployed.run_together(CastEncryptedBallot, [(t, CastEncryptedBallot(vote_id, b)) for t, b in zip(tokens, made)])
    finally:
        event.remove(deployed.db.writer, "before_cursor_execute", note)
    assert all(r is not None for r in results)
    lookups = [s for s in statements if s.lstrip().upper().startswith("SELECT")
               and any(f"FROM {table}" in s for table in ("voter_credentials", "encrypted_ballots", "audited_ballots"))]
    assert len(lookups) == 1, [s[:120] for s in statements]
    parts = lookups[0].split("UNION ALL")
    assert len(parts) == 3
    for part, table in zip(parts, ("voter_credentials", "encrypted_ballots", "audited_ballots"), strict=True):
        assert f"FROM {table}" in part and f"{table}.vote_id = " in part and " IN " in part
