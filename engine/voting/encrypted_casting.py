"""Encrypted first ballots cast together: many voters' ballots in one transaction (``Engine.execute_together``).

An encrypted vote's busy minutes are, like a plaintext vote's, mostly first ballots from distinct voters, and a
transaction per ballot (SQLite's units of work take turns) spends more on BEGIN, COMMIT, the durable flush and the
statements than on the ballot, whose proofs were checked before any transaction (``checked_ballots``). Here a batch
shares them, as ``casting.cast_together`` does for plaintext ballots: a request gets its tracker when it is plainly
a valid first ballot — the caller in the vote's electorate, the vote open and keyed, no participation yet, the
caller's registered credential the ballot's, the ballot checked ahead against this election, its tracker neither
audited nor stored — and anything else (a change, a retry, a refusal, a ballot not checked ahead, a voter or a
tracker twice in the batch) gets None and is cast alone by ``ceremony.cast``, which answers it exactly. Each
ballot is written as ``ceremony.cast`` writes it: the encrypted ballot, the participation and the ``ballot_cast``
event, all in this transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, literal_column, null, select, text, union_all

from engine.identity.actors import Actor, hash_token, holder
from engine.kernel.instances import RowsWithSeq, record_unloaded
from engine.kernel.unit_of_work import UnitOfWork
from engine.voting import checked_ballots
from engine.voting.casting import _TARGETS, _close_if_everyone_voted, _is_open, _padded
from engine.voting.ceremony import Cast, _casting_lock, _tracker_lock
from engine.voting.commands import CastEncryptedBallot
from engine.voting.counting.encrypted import ENCRYPTED
from engine.voting.encryption import ballots as eballots
from engine.voting.encryption import encoding
from engine.voting.models import AuditedBallot, Ceremony, EncryptedBallot, Participation, VoterCredential
from engine.voting.voter_keys import voter_key

_ROWS = RowsWithSeq(Participation.__table__, EncryptedBallot.__table__)
_CEREMONIES = select(Ceremony.vote_id, Ceremony.state, Ceremony.fingerprint, Ceremony.election).where(
    Ceremony.vote_id.in_(bindparam("vote_ids", expanding=True)))


class _Candidate:
    """A request that looks like a plain first ballot, before the checks that need the batch's other rows."""

    def __init__(self, index: int, actor: Actor, target: Row[Any], ballot: eballots.Ballot) -> None:
        self.index, self.actor, self.target, self.ballot = index, actor, target, ballot
        self.json = ballot.to_json()
        self.tracker = eballots.tracker(self.json)
        self.credential = encoding.hx(ballot.credential)


def cast_together(uow: UnitOfWork, requests: Sequence[tuple[str, CastEncryptedBallot]]) -> list[Cast | None]:
    """The plain first ballots among many (token, cast) requests, written in one transaction; None for the others."""
    connection = uow.session.connection()
    hashes = [hash_token(token) for token, _ in requests]
    vote_ids = _padded({cast.vote_id for _, cast in requests})
    targets = {(row.token_hash, row.id): row for row in connection.execute(
        _TARGETS, {"token_hashes": _padded(set(hashes)), "vote_ids": vote_ids})}
    ceremonies = {row.vote_id: row for row in connection.execute(_CEREMONIES, {"vote_ids": vote_ids})}
    candidates = []
    for i, ((_, cast), token_hash) in enumerate(zip(requests, hashes, strict=True)):
        target = targets.get((token_hash, cast.vote_id))
        ceremony = ceremonies.get(cast.vote_id)
        if target is None or ceremony is None or ceremony.state != "open" or ceremony.election is None:
            continue
        actor = holder(target)
        if not _is_plain_first_ballot(target, actor, uow):
            continue
        ballot = checked_ballots.remembered(checked_ballots.election(ceremony.fingerprint, ceremony.election), cast.ballot)
        if ballot is not None:
            candidates.append(_Candidate(i, actor, target, ballot))
    plain = _plain(uow, candidates)
    if not plain:
        return [None] * len(requests)
    return _write(uow, plain, len(requests))


def _is_plain_first_ballot(target: Row[Any], actor: Actor, uow: UnitOfWork) -> bool:
    return (_is_open(target, uow.now) and target.secrecy == ENCRYPTED and target.weight is not None
            and target.voted is None
            and voter_key(target.basis, actor.member_id, target.household, "resident" in actor.roles) == target.voter_key)


def _plain(uow: UnitOfWork, candidates: list[_Candidate]) -> list[_Candidate]:
    """The candidates under their voter's registered credential, whose tracker is neither audited nor cast, each
    voter and tracker once. Each tracker is locked first (PostgreSQL), as ``ceremony.cast`` locks it, so that an
    audit of the same ballot racing this batch either committed already (and is seen) or waits for it."""
    if not candidates:
        return []
    connection = uow.session.connection()
    _lock_trackers(connection, sorted({(c.target.id, c.tracker) for c in candidates}))
    registered: dict[tuple[str, str], str] = {}
    taken: set[tuple[str, str]] = set()
    for vote_id in sorted({c.target.id for c in candidates}):  # by vote, so that each lookup runs on a primary key
        mine = [c for c in candidates if c.target.id == vote_id]
        for row in connection.execute(_KNOWN, {"vote_id": vote_id, "voter_keys": _padded({c.target.voter_key for c in mine}),
                                               "trackers": _padded({c.tracker for c in mine})}):
            if row.kind == "credential":
                registered[(vote_id, row.key)] = row.credential
            else:
                taken.add((vote_id, row.key))
    plain, claimed = [], set()
    for c in candidates:
        claims = {("voter", c.target.id, c.target.voter_key), ("tracker", c.target.id, c.tracker)}
        if (registered.get((c.target.id, c.target.voter_key)) == c.credential and (c.target.id, c.tracker) not in taken
                and not claims & claimed):
            claimed |= claims
            plain.append(c)
    return plain


def _lock_trackers(connection: Connection, pairs: list[tuple[str, str]]) -> None:
    """``ceremony._lock_tracker`` for each (vote, tracker) pair, in this order, in one statement (PostgreSQL; SQLite's
    units of work take turns anyway): the vote's casting lock shared, then the tracker's."""
    if connection.dialect.name != "postgresql":
        return
    keys = [key for vote_id, tracker in pairs for key in (_casting_lock(vote_id), _tracker_lock(vote_id, tracker))]
    connection.execute(_LOCKS, {"keys": keys, "shared": [True, False] * len(pairs)}).all()


_LOCKS = text("SELECT CASE WHEN l.shared THEN pg_advisory_xact_lock_shared(l.key) ELSE pg_advisory_xact_lock(l.key) END "
              "FROM unnest(CAST(:keys AS bigint[]), CAST(:shared AS boolean[])) AS l(key, shared)")
"""Takes the locks one row at a time, in the arrays' order (a function scan keeps it)."""
_KNOWN = union_all(
    select(literal_column("'credential'").label("kind"), VoterCredential.voter_key.label("key"),
           VoterCredential.credential.label("credential")).where(
        VoterCredential.vote_id == bindparam("vote_id"), VoterCredential.voter_key.in_(bindparam("voter_keys", expanding=True))),
    *(select(literal_column("'taken'"), model.tracker, null()).where(
        model.vote_id == bindparam("vote_id"), model.tracker.in_(bindparam("trackers", expanding=True)))
      for model in (EncryptedBallot, AuditedBallot)))
"""In one statement per vote, each part on a primary key: the batch's voters' registered credentials, and which of
its trackers were cast or audited already."""


def _write(uow: UnitOfWork, plain: list[_Candidate], count: int) -> list[Cast | None]:
    casts: dict[int, Cast] = {}
    by_instance: dict[str, tuple[Row[Any], list[Any], dict[str, list[dict[str, Any]]]]] = {}
    for c in plain:
        vote = c.target
        _, events, rows = by_instance.setdefault(vote.instance_id, (vote, [], {"participations": [], "encrypted_ballots": []}))
        events.append(("ballot_cast", {"vote_id": vote.id, "channel": "online"}, c.actor))
        rows["participations"].append({
            "vote_id": vote.id, "voter_key": vote.voter_key, "member_id": c.actor.member_id, "channel": "online",
            "teller_id": None, "cast_at": uow.now, "changes": 0, "idempotency_hash": None, "request_hash": None,
            "sealed_receipt": None, "receipt_tag": None})
        rows["encrypted_ballots"].append({
            "vote_id": vote.id, "tracker": c.tracker, "credential": c.credential, "ballot": c.json,
            "weight": vote.weight, "replaced": False, "channel": "online"})
        casts[c.index] = Cast(vote.id, c.tracker, False)
    for instance_id in sorted(by_instance):  # one order for every batch: two batches never wait on each other in turn
        vote, events, rows = by_instance[instance_id]
        record_unloaded(uow, instance_id, events, new_rows=(_ROWS, rows))
        _close_if_everyone_voted(uow, vote)
    return [casts.get(i) for i in range(count)]
