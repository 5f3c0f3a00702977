"""Casting ballots: one ballot, a changed ballot, paper ballots entered and corrected by tellers, and ballots cast together
in one transaction (group commit)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Row, bindparam, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.voting.commands import CastBallot
from engine.identity import actors
from engine.identity.actors import Actor, hash_token, holder
from engine.identity.models import Member
from engine.kernel.errors import Conflict, InvalidInput, LostRace, NotFound, PermissionDenied
from engine.kernel.instances import RowsWithSeq, deliver, record_unloaded
from engine.kernel.models import Instance
from engine.kernel.unit_of_work import UnitOfWork
from engine.voting.counting import board
from engine.voting.counting.ballots import choice_problem, validate_choice
from engine.voting.models import Ballot, ElectorateEntry, Participation, ReplacedBallot, Vote
from engine.voting.queries import _entry_of, get_vote, voter_key_of
from engine.voting.voter_keys import voter_key, voter_key_sql
from engine.voting.seals import BallotSeal, RequestKey

TELLER_ROLES = ("committee",)
MAX_REASON = 500
"""A correction's reason, at most this many characters."""
ALL_VOTED_MESSAGE = "all_voted"
MIN_IDEMPOTENCY_KEY = 16


# ---- casting ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Receipt:
    """Given to the voter once. Its fingerprint appears on the bulletin board after the close."""

    vote_id: str
    receipt: str
    fingerprint: str
    changed: bool


def cast(uow: UnitOfWork, seal: BallotSeal, actor: Actor, vote_id: str, choice: Any, *,
         idempotency_key: str | None = None, previous_receipt: str | None = None) -> Receipt:
    """Cast (or change) the caller's ballot; a retried request with the same key gets the same receipt.

    ``target`` (one row: the vote, the caller's electorate entry and participation) stands in for
    the ``Vote``, the ``ElectorateEntry`` and, when replaying a request, the ``Participation``.
    """
    target = _cast_target(uow, actor, vote_id)
    _require_plain(target)
    _require_open(target, uow.now)
    if target.voter_key is None:
        raise PermissionDenied("you are not in this vote's electorate")
    validate_choice(target.method, choice, [o["id"] for o in target.options])
    keys = _Keys.of(seal, target.id, idempotency_key, choice, previous_receipt)
    if target.channel is None:
        return _first_ballot(uow, seal, actor, target, target, choice, "online", None, keys)
    replayed = _replayed(target, keys)
    if replayed is not None:
        return replayed
    participation = uow.session.get(Participation, (target.id, target.voter_key))
    return _changed_ballot(uow, seal, actor, target, participation, choice, previous_receipt, keys)


def _cast_target(uow: UnitOfWork, actor: Actor, vote_id: str) -> Row[Any]:
    """The vote with the caller's electorate entry and participation, in one prebuilt Core select
    (three ORM loads cost more than the rest of a ballot); 404 as ``get_vote``."""
    params = {"vote_id": vote_id, "member_id": actor.member_id,
              "household_member": actor.member_id if "resident" in actor.roles else None}
    return actor.own(uow.session.connection().execute(_CAST_TARGET, params).first(), "vote")


_votes, _electorate, _participations, _members = (model.__table__ for model in (Vote, ElectorateEntry, Participation, Member))
_ballots, _replaced = Ballot.__table__, ReplacedBallot.__table__
_CALLER_KEY = voter_key_sql(
    _votes.c.basis, bindparam("member_id", type_=Integer),
    select(_members.c.household).where(_members.c.id == bindparam("household_member")).scalar_subquery(),
)
"""The caller's voter key (``voter_keys``): their household is looked up only when they are a resident."""
_CAST_TARGET = (
    select(
        _votes.c.id, _votes.c.community_id, _votes.c.instance_id, _votes.c.status, _votes.c.deadline, _votes.c.method,
        _votes.c.options, _votes.c.secret, _votes.c.close_when_all_voted, _votes.c.eligible_heads, _votes.c.secrecy,
        _electorate.c.voter_key, _electorate.c.weight,
        _participations.c.channel, _participations.c.changes, _participations.c.idempotency_hash,
        _participations.c.request_hash, _participations.c.sealed_receipt,
    )
    .select_from(_votes)
    .outerjoin(_electorate, (_electorate.c.vote_id == _votes.c.id) & (_electorate.c.voter_key == _CALLER_KEY))
    .outerjoin(_participations, (_participations.c.vote_id == _votes.c.id) & (_participations.c.voter_key == _electorate.c.voter_key))
    .where(_votes.c.id == bindparam("vote_id"))
)


def enter_paper(uow: UnitOfWork, seal: BallotSeal, teller: Actor, vote_id: str, member_id: int, choice: Any) -> Receipt:
    """A teller enters a named voter's paper ballot; the receipt goes back to the voter on paper."""
    teller.require(*TELLER_ROLES)
    vote = get_vote(uow.session, teller, vote_id)
    _require_plain(vote)
    _require_open(vote, uow.now)
    voter = _member(uow.session, teller, member_id)
    entry = _entry_of(uow.session, vote, voter)
    validate_choice(vote.method, choice, [o["id"] for o in vote.options])
    if uow.session.get(Participation, (vote.id, entry.voter_key)) is not None:
        raise Conflict("this voter has already voted (online or on paper); correct the paper ballot instead")
    return _first_ballot(uow, seal, teller, vote, entry, choice, "paper", voter, _Keys.of(seal, vote.id, None, choice, None))


def correct_paper(uow: UnitOfWork, seal: BallotSeal, teller: Actor, vote_id: str, member_id: int, receipt: str,
                  choice: Any, reason: str | None = None) -> Receipt:
    """A teller corrects a paper ballot they (or another teller) entered; recorded with who did it (and why, when the
    teller says so: ``reason``, at most ``MAX_REASON`` characters)."""
    teller.require(*TELLER_ROLES)
    details: dict[str, Any] = {}
    if reason is not None:
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON or "\x00" in reason:
            raise InvalidInput("the reason is not valid", errors=[
                {"field": "reason", "message": f"give the reason in 1 to {MAX_REASON} characters"}])
        details["reason"] = reason
    vote = get_vote(uow.session, teller, vote_id)
    _require_open(vote, uow.now)
    voter = _member(uow.session, teller, member_id)
    voter_key = voter_key_of(uow.session, vote, voter)
    participation = uow.session.get(Participation, (vote.id, voter_key))
    if participation is None or participation.channel != "paper":
        raise Conflict("there is no paper ballot of this voter to correct")
    validate_choice(vote.method, choice, [o["id"] for o in vote.options])
    fresh, fingerprint = _replace_ballot(uow, seal, vote, participation, receipt, choice, lambda _: {"teller_id": teller.member_id})
    _record(uow, vote, "paper_ballot_corrected", teller, {"voter_id": voter.member_id, **details}, choice)
    return Receipt(vote.id, fresh, fingerprint, True)


def _first_ballot(uow: UnitOfWork, seal: BallotSeal, actor: Actor, vote: Vote, entry: ElectorateEntry, choice: Any,
                  channel: str, voter: Actor | None, keys: _Keys) -> Receipt:
    participation, ballot, receipt = _first_ballot_rows(uow, seal, actor, vote, entry.voter_key, entry.weight, choice,
                                                        channel, voter, keys)
    fingerprint = ballot["fingerprint"]
    rows = (_FIRST_BALLOT_ROWS, {"participations": [participation], "ballots": [ballot]})
    try:
        if voter is None:
            _record(uow, vote, "ballot_cast", actor, {"channel": "online"}, choice, rows)
        else:
            _record(uow, vote, "paper_ballot_entered", actor, {"voter_id": voter.member_id}, choice, rows)
    except IntegrityError as exc:  # a concurrent first ballot of this voter, or with this key, committed first
        if "idempotency_hash" in str(exc.orig):  # the (idempotency_hash, vote_id) constraint, in either database's words
            raise LostRace(KEY_USED) from exc
        raise LostRace("this voter has already voted") from exc
    _close_if_everyone_voted(uow, vote)
    return Receipt(vote.id, receipt, fingerprint, False)


KEY_USED = ("this idempotency key was already used for another ballot in this vote; "
            "send a new key (a UUID) with each new ballot")


def _first_ballot_rows(uow: UnitOfWork, seal: BallotSeal, actor: Actor, vote: Vote, voter_key: str, weight: str,
                       choice: Any, channel: str, voter: Actor | None,
                       keys: _Keys) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A first ballot's participation and ballot (every column), and the receipt the voter gets."""
    receipt = _new_receipt()
    participation = {
        "vote_id": vote.id, "voter_key": voter_key, "member_id": (voter or actor).member_id, "channel": channel,
        "teller_id": actor.member_id if voter else None, "cast_at": uow.now, "changes": 0,
        "receipt_tag": seal.receipt_tag(vote.id, receipt), **keys.stored(receipt),
    }
    ballot = {"id": secrets.token_hex(16), "vote_id": vote.id, "fingerprint": board.fingerprint(vote.id, receipt),
              "choice": choice, "weight": weight, "voter_key": None if vote.secret else voter_key}
    return participation, ballot, receipt


_FIRST_BALLOT_ROWS = RowsWithSeq(Participation.__table__, Ballot.__table__)
"""A first ballot is the busiest write there is: two plain inserts, built once (the ORM's unit of work
would cost more than the inserts themselves), in the statement that numbers its event."""


def _changed_ballot(uow: UnitOfWork, seal: BallotSeal, actor: Actor, vote: Vote, participation: Participation,
                    choice: Any, previous_receipt: str | None, keys: _Keys) -> Receipt:
    if participation.member_id != actor.member_id:
        raise Conflict("your household has already voted: one ballot per household, changed only by whoever cast it")
    if participation.channel == "paper":
        raise Conflict("your ballot was entered on paper by a teller; ask a teller to correct it")
    try:
        receipt, fingerprint = _replace_ballot(uow, seal, vote, participation, previous_receipt, choice, keys.stored)
    except ReceiptSpent:
        replayed = _replayed(_fresh(uow, participation), keys)  # the same request, sent twice at once: the first won
        if replayed is not None:
            return replayed
        raise
    _record(uow, vote, "ballot_changed", actor, {"channel": "online"}, choice)
    return Receipt(vote.id, receipt, fingerprint, True)


class ReceiptSpent(Conflict):
    """The receipt presented was the voter's, but a later ballot (perhaps a concurrent request) replaced it."""


def _replace_ballot(uow: UnitOfWork, seal: BallotSeal, vote: Vote, participation: Participation, receipt: str | None,
                    choice: Any, columns: Callable[[str], dict[str, Any]]) -> tuple[str, str]:
    """Spend the voter's latest receipt: its ballot takes the new choice under a new receipt.

    A receipt is spent once, whatever runs concurrently: the participation's receipt tag moves
    from the old receipt to the new one in one conditional UPDATE (and the change count with it,
    in SQL), so of two requests presenting the same receipt the second finds the tag moved —
    PostgreSQL re-reads the row once the first commits — and is refused; its ballot is never
    applied over the first. The old fingerprint is kept as replaced: no choice, no voter.
    """
    old = _receipt_to_replace(uow.session, vote, participation, receipt)
    new = _new_receipt()
    tag = seal.receipt_tag(vote.id, receipt) if receipt else None
    values = {"changes": _participations.c.changes + 1, "receipt_tag": seal.receipt_tag(vote.id, new),
              **columns(new)}
    spent = (_participations.c.receipt_tag == tag) | _participations.c.receipt_tag.is_(None) if tag else literal(True)
    try:
        moved = uow.session.execute(
            update(_participations).where(_participations.c.vote_id == vote.id, _participations.c.voter_key == participation.voter_key,
                                          _participations.c.changes == participation.changes, spent).values(values)
        ).rowcount
    except IntegrityError as exc:  # the new idempotency key is another ballot's
        raise Conflict(KEY_USED) from exc
    if moved != 1:
        raise _why_not_moved(uow.session, vote, participation, receipt)
    replaced = uow.session.execute(
        update(_ballots).where(_ballots.c.vote_id == vote.id, _ballots.c.fingerprint == old)
        .values(choice=choice, fingerprint=board.fingerprint(vote.id, new))
    ).rowcount
    if replaced != 1:
        raise ReceiptSpent(REPLACED)
    uow.session.execute(insert(_replaced), {"vote_id": vote.id, "fingerprint": old})
    uow.session.expire(participation)
    return new, board.fingerprint(vote.id, new)


REPLACED = "this receipt was already replaced by a later ballot; send the receipt of your latest ballot"


def _receipt_to_replace(session: Session, vote: Vote, participation: Participation, receipt: str | None) -> str:
    """The fingerprint of the ballot to change. In a secret vote only the voter's latest receipt
    finds it: nothing stored leads from the voter to their ballot. In a public vote the ballot
    names its voter, so no receipt is needed (one given must still be the latest, and theirs)."""
    if receipt:
        fingerprint = board.fingerprint(vote.id, receipt)
        found = session.execute(select(_ballots.c.voter_key).where(_ballots.c.vote_id == vote.id, _ballots.c.fingerprint == fingerprint)).first()
        if found is None:  # looked for second: a change committing meanwhile moves it from the ballots to the replaced
            if session.scalar(select(literal(1)).where(_replaced.c.vote_id == vote.id, _replaced.c.fingerprint == fingerprint)):
                raise ReceiptSpent(REPLACED)
            raise Conflict("that receipt is not the one of a ballot in this vote (only the latest receipt counts)")
        if not vote.secret and found.voter_key != participation.voter_key:
            raise Conflict(NOT_YOURS)
        return fingerprint
    if vote.secret:
        raise Conflict("you have already voted; to change your ballot, send the receipt of your last ballot")
    fingerprint = session.scalar(select(_ballots.c.fingerprint).where(
        _ballots.c.vote_id == vote.id, _ballots.c.voter_key == participation.voter_key))
    if fingerprint is None:
        raise NotFound("ballot not found")
    return fingerprint


NOT_YOURS = "that receipt is not the one of this voter's latest ballot"


def _why_not_moved(session: Session, vote: Vote, participation: Participation, receipt: str | None) -> Conflict:
    """The conditional UPDATE found the participation otherwise than this request read it: changed
    meanwhile by a concurrent request (read again: PostgreSQL's READ COMMITTED shows its commit),
    or holding another receipt's tag."""
    changes = session.scalar(select(_participations.c.changes).where(
        _participations.c.vote_id == vote.id, _participations.c.voter_key == participation.voter_key))
    if changes != participation.changes:
        return ReceiptSpent(REPLACED if receipt else "your ballot was changed by another request meanwhile; reload and try again")
    return Conflict(NOT_YOURS)


def _fresh(uow: UnitOfWork, participation: Participation) -> Participation:
    uow.session.refresh(participation)
    return participation


def _record(uow: UnitOfWork, vote: Vote, event_type: str, actor: Actor, details: dict[str, Any], choice: Any,
            new_rows: tuple[RowsWithSeq, dict[str, list[dict[str, Any]]]] | None = None) -> None:
    record_unloaded(uow, vote.instance_id, [(event_type, _event_input(vote, details, choice), actor)], new_rows=new_rows)


def _event_input(vote: Vote, details: dict[str, Any], choice: Any) -> dict[str, Any]:
    """The history says who voted (and when) — and what, only in a public vote."""
    input = {"vote_id": vote.id, **details}
    if not vote.secret:
        input["choice"] = choice
    return input


def _close_if_everyone_voted(uow: UnitOfWork, vote: Vote) -> None:
    if not vote.close_when_all_voted:
        return
    voted = uow.session.scalar(select(func.count()).select_from(Participation).where(Participation.vote_id == vote.id))
    if voted == vote.eligible_heads:
        instance = uow.session.get(Instance, vote.instance_id)
        uow.session.refresh(instance)
        deliver(uow, instance, ALL_VOTED_MESSAGE, {}, None)


def _require_plain(vote: Any) -> None:
    """An encrypted vote takes only encrypted ballots (``engine.voting.ceremony``): no choice in clear, on any channel."""
    if vote.secrecy is not None:
        raise Conflict("this vote's ballots are encrypted on the voter's device: cast an encrypted ballot "
                       "(POST /api/votes/{id}/encrypted-ballots)")


def _require_open(vote: Vote, now: datetime) -> None:
    if not _is_open(vote, now):
        raise Conflict("the vote is closed")


def _is_open(vote: Vote, now: datetime) -> bool:
    return vote.status == "open" and now < vote.deadline


def _new_receipt() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class _Keys:
    """A request's idempotency key, and what a participation keeps of it (``engine.voting.seals``)."""

    request_key: RequestKey | None
    choice: Any
    previous_receipt: str | None

    @classmethod
    def of(cls, seal: BallotSeal, vote_id: str, key: str | None, choice: Any, previous_receipt: str | None) -> _Keys:
        if key is not None and len(key) < MIN_IDEMPOTENCY_KEY:
            raise InvalidInput(f"an idempotency key needs at least {MIN_IDEMPOTENCY_KEY} characters (use a UUID)",
                               errors=[{"field": "Idempotency-Key", "message": "too short"}])
        return cls(seal.request_key(vote_id, key) if key is not None else None, choice, previous_receipt)

    def stored(self, receipt: str) -> dict[str, Any]:
        """The participation's columns for this request: its receipt sealed with a pad only the key rebuilds."""
        if self.request_key is None:
            return {"idempotency_hash": None, "request_hash": None, "sealed_receipt": None}
        return {"idempotency_hash": self.request_key.lookup(), "request_hash": self.request_key.request(self.choice, self.previous_receipt),
                "sealed_receipt": _xor(receipt.encode(), self.request_key.pad()).hex()}


def _replayed(earlier: Any, keys: _Keys) -> Receipt | None:
    """The receipt of an earlier request with this key — the caller's own only (``earlier`` is the caller's
    participation): another voter sending the same key must not get a receipt that would let them change
    someone else's ballot."""
    request_key = keys.request_key
    if request_key is None or earlier.idempotency_hash != request_key.lookup():
        return None
    if earlier.request_hash != request_key.request(keys.choice, keys.previous_receipt):
        raise Conflict("this idempotency key was used for a different ballot")
    receipt = _xor(bytes.fromhex(earlier.sealed_receipt), request_key.pad()).decode()
    return Receipt(request_key.vote_id, receipt, board.fingerprint(request_key.vote_id, receipt), earlier.changes > 0)


def _xor(data: bytes, pad: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, pad, strict=True))


# ---- ballots cast together (group commit) ----------------------------------------------------

def cast_together(uow: UnitOfWork, seal: BallotSeal, requests: Sequence[tuple[str, CastBallot]]) -> list[Receipt | None]:
    """The first ballots among many (token, cast) requests, written in one transaction.

    A busy vote is mostly first ballots from distinct voters, and a transaction per ballot spends
    more on BEGIN, COMMIT, the durable flush and the statements' overhead than on the ballot: here
    a batch shares them. A request gets its receipt when it is plainly a valid first ballot; any
    other (an unknown token, a closed vote, a voter who has voted or is twice in the batch, a key
    twice in the batch, a choice the vote refuses) gets None and goes through ``cast`` on its own,
    which answers it exactly; a key that an earlier ballot used fails the whole batch instead (see
    ``_is_plain_first_ballot``). Each ballot is written as ``cast`` writes it — participation, ballot and
    ``ballot_cast`` event, all in this transaction; the batch's ballots are inserted in random
    order, so that where a ballot lies says nothing of whose it is.
    """
    hashes = [hash_token(token) for token, _ in requests]
    params = {"token_hashes": _padded(set(hashes)), "vote_ids": _padded({cast.vote_id for _, cast in requests})}
    targets = {(row.token_hash, row.id): row for row in uow.session.connection().execute(_TARGETS, params)}
    claimed: set[tuple[str, str, str]] = set()
    plain = []
    for i, ((_, cast), token_hash) in enumerate(zip(requests, hashes, strict=True)):
        # No row: an unknown or revoked token, no such vote in the caller's community, or no entry in its electorate.
        target = targets.get((token_hash, cast.vote_id))
        if target is None:
            continue
        actor = holder(target)
        if not _is_plain_first_ballot(target, actor, cast, uow.now):
            continue
        claims = {("voter", target.id, target.voter_key)}
        if cast.idempotency_key is not None:
            claims.add(("key", target.id, cast.idempotency_key))
        if not claims & claimed:
            claimed |= claims
            plain.append((i, actor, target, cast))
    if not plain:
        return [None] * len(requests)
    return _write_together(uow, seal, plain, len(requests))


def _padded(values: set[str]) -> list[str]:
    """The values, the last repeated up to a power of two: an IN list of each length is its own
    statement to the database (parsed, planned and prepared anew), so lengths are kept to a few."""
    ordered = sorted(values)
    return ordered + ordered[-1:] * ((1 << (len(ordered) - 1).bit_length()) - len(ordered))


def _is_plain_first_ballot(target: Row[Any], actor: Actor, cast: CastBallot, now: datetime) -> bool:
    """Whether ``cast`` would be a first ballot that ``cast`` accepts, as far as its target row tells.

    A key that an earlier ballot used is not looked for: the unique index refuses it at the insert,
    the whole batch with it, and each ballot is then cast alone (a client reusing keys is rare).
    """
    return (
        _is_open(target, now)
        and target.secrecy is None
        and target.weight is not None
        and target.voted is None
        and voter_key(target.basis, actor.member_id, target.household, "resident" in actor.roles) == target.voter_key
        and (cast.idempotency_key is None or len(cast.idempotency_key) >= MIN_IDEMPOTENCY_KEY)
        and choice_problem(target.method, cast.choice, [o["id"] for o in target.options]) is None
    )


def _write_together(uow: UnitOfWork, seal: BallotSeal, plain: list[tuple[int, Actor, Row[Any], CastBallot]],
                    count: int) -> list[Receipt | None]:
    receipts: dict[int, Receipt] = {}
    by_instance: dict[str, tuple[Row[Any], list[Any], dict[str, list[dict[str, Any]]]]] = {}
    for i, actor, vote, cast in plain:
        keys = _Keys.of(seal, vote.id, cast.idempotency_key, cast.choice, cast.previous_receipt)
        participation, ballot, receipt = _first_ballot_rows(
            uow, seal, actor, vote, vote.voter_key, vote.weight, cast.choice, "online", None, keys)
        _, events, rows = by_instance.setdefault(vote.instance_id, (vote, [], {"participations": [], "ballots": []}))
        events.append(("ballot_cast", _event_input(vote, {"channel": "online"}, cast.choice), actor))
        rows["participations"].append(participation)
        rows["ballots"].append(ballot)
        receipts[i] = Receipt(vote.id, receipt, ballot["fingerprint"], False)
    for instance_id in sorted(by_instance):  # one order for every batch: two batches never wait on each other's rows in turn
        vote, events, rows = by_instance[instance_id]
        secrets.SystemRandom().shuffle(rows["ballots"])
        record_unloaded(uow, instance_id, events, new_rows=(_FIRST_BALLOT_ROWS, rows))
        _close_if_everyone_voted(uow, vote)
    return [receipts.get(i) for i in range(count)]


_CALLERS = actors.TOKENS_HOLDERS.cte("callers").prefix_with("MATERIALIZED")
_KEY = voter_key_sql(_votes.c.basis, _CALLERS.c.member_id, _CALLERS.c.household)
_TARGETS = select(
    _CALLERS, _votes.c.id, _votes.c.instance_id, _votes.c.status, _votes.c.secrecy, _votes.c.deadline, _votes.c.method, _votes.c.options,
    _votes.c.secret, _votes.c.basis, _votes.c.close_when_all_voted, _votes.c.eligible_heads, _KEY.label("voter_key"),
    select(_electorate.c.weight).where(_electorate.c.vote_id == _votes.c.id, _electorate.c.voter_key == _KEY)
    .scalar_subquery().label("weight"),
    select(_participations.c.voter_key).where(_participations.c.vote_id == _votes.c.id, _participations.c.voter_key == _KEY)
    .scalar_subquery().label("voted"),
).join_from(_CALLERS, _votes, (_votes.c.community_id == _CALLERS.c.community_id) & _votes.c.id.in_(bindparam("vote_ids", expanding=True)))
"""``_CAST_TARGET`` for a batch, in one query built once: each caller with each of the batch's
votes in their community, their voter key there, its weight in the electorate (None: not in it)
and whether it has voted. A row stands in for the ``Vote`` (its ``id`` is the vote's). The key
leaves out the resident-role check that ``voter_key`` makes for households;
``_is_plain_first_ballot`` makes it.

The callers come first, found by their tokens, in a materialized CTE, and the entry and the
participation are looked up by primary key for each: planners cannot reorder that. Joined
plainly, SQLite (without statistics, for a dozen tokens or more) and PostgreSQL (for a small
community) read every member of the community, or every entry of the electorate, per batch."""


def _member(session: Session, teller: Actor, member_id: int) -> Actor:
    from engine.identity.actors import actor_for
    from engine.identity.members import get_member

    return actor_for(get_member(session, teller, member_id))
