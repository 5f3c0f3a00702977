"""Paper ballots in an encrypted vote (docs/ballot-encryption.md §13.1): the teller's client makes a fresh credential
for the paper voter, encrypts the choice on the paper under it and signs; here the server checks the ballot like any
other, binds that credential to the voter's entry in the frozen electorate and casts the ballot, in one transaction,
with the teller recorded as today's paper ballots record them.

The credential's secret never reaches the server and is forgotten by the teller's client once the ballot is cast: the
paper slip is the voter's record, and nobody — not the teller either — can cast again under that credential. A
correction is therefore not a re-vote: the teller enters the corrected paper under a fresh credential, presenting the
tracker written on the voter's slip, with a reason; the old ballot stays on the board marked replaced.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from engine.identity.actors import Actor
from engine.kernel.errors import Conflict, InvalidInput, LostRace
from engine.kernel.unit_of_work import UnitOfWork
from engine.voting import casting
from engine.voting.ceremony import Cast, _bad, _ceremony, _record, election_of
from engine.voting.encryption import ballots as eballots
from engine.voting.encryption import encoding
from engine.voting.encryption.group import EncodingError
from engine.voting.models import AuditedBallot, ElectorateEntry, EncryptedBallot, Participation, Vote, VoterCredential
from engine.voting.queries import _entry_of, get_vote

PAPER = "paper"
ALREADY_VOTED = "this voter has already voted (online or on paper); correct the paper ballot instead"
"""Today's refusal of a second ballot on paper (``casting.enter_paper``), kept word for word."""
NO_PAPER_BALLOT = "there is no paper ballot of this voter to correct"
TRACKER_REPLACED = "this tracker was replaced by a later correction; enter the tracker of the voter's latest paper slip"
NOT_THE_LATEST = "that tracker is not the one of this voter's latest ballot"

_ballots, _participations = EncryptedBallot.__table__, Participation.__table__


def enter(uow: UnitOfWork, teller: Actor, vote_id: str, member_id: int, credential: Any, ballot: Any) -> Cast:
    """A teller casts a named voter's paper ballot, encrypted by the teller's client under a fresh credential.

    Sent again (a retry of the same request), the same ballot gets the same answer; any other ballot for a voter who
    has voted, online or on paper, is refused as today's paper ballots are."""
    vote, voter, entry = _paper_target(uow, teller, vote_id, member_id)
    parsed, tracker = _checked(uow, vote, credential, ballot)
    participation = uow.session.get(Participation, (vote.id, entry.voter_key))
    if participation is not None:
        if _is_current(uow, vote, entry, tracker) and participation.channel == PAPER:
            return Cast(vote.id, tracker, participation.changes > 0)  # the same paper ballot, sent again
        raise Conflict(ALREADY_VOTED)
    _refuse_taken(uow, vote, entry, credential, tracker)
    registered = uow.session.get(VoterCredential, (vote.id, entry.voter_key))
    if registered is None:
        uow.session.add(VoterCredential(vote_id=vote.id, voter_key=entry.voter_key, credential=credential))
    else:  # registered online but never cast: the voter chose paper, and the paper credential takes its place
        registered.credential = credential
    uow.session.add(_ballot_row(vote, entry, tracker, parsed))
    uow.session.add(Participation(vote_id=vote.id, voter_key=entry.voter_key, member_id=voter.member_id, channel=PAPER,
                                  teller_id=teller.member_id, cast_at=uow.now, changes=0))
    _recorded(uow, vote, "paper_ballot_entered", teller, {"voter_id": voter.member_id})
    casting._close_if_everyone_voted(uow, vote)
    return Cast(vote.id, tracker, False)


def correct(uow: UnitOfWork, teller: Actor, vote_id: str, member_id: int, tracker: Any, credential: Any, ballot: Any,
            reason: Any) -> Cast:
    """A teller replaces a voter's paper ballot by the corrected paper, encrypted under a fresh credential.

    ``tracker`` is the one written on the voter's paper slip (the latest): as a receipt does for today's paper
    ballots, it shows the slip is at hand, and it is spent once — of two corrections presenting it, one wins. The
    reason is required: the server, not the credential, authorises this replacement, so the history says why."""
    vote, voter, entry = _paper_target(uow, teller, vote_id, member_id)
    details = {"reason": _reason(reason)}
    participation = uow.session.get(Participation, (vote.id, entry.voter_key))
    if participation is None or participation.channel != PAPER:
        raise Conflict(NO_PAPER_BALLOT)
    parsed, fresh = _checked(uow, vote, credential, ballot)
    if _is_current(uow, vote, entry, fresh):
        return Cast(vote.id, fresh, True)  # the same correction, sent again
    old = _latest(uow, vote, entry, tracker)
    _refuse_taken(uow, vote, entry, credential, fresh)
    spent = uow.session.execute(update(_ballots).where(
        _ballots.c.vote_id == vote.id, _ballots.c.tracker == old, _ballots.c.replaced.is_(False)).values(replaced=True)).rowcount
    moved = uow.session.execute(update(_participations).where(
        _participations.c.vote_id == vote.id, _participations.c.voter_key == entry.voter_key,
        _participations.c.changes == participation.changes,
    ).values(changes=_participations.c.changes + 1, teller_id=teller.member_id)).rowcount
    if spent != 1 or moved != 1:  # a concurrent correction presented the same slip and committed first
        raise Conflict(TRACKER_REPLACED)
    registered = uow.session.get(VoterCredential, (vote.id, entry.voter_key))
    assert registered is not None  # a paper participation has its credential (``enter``)
    registered.credential = credential
    uow.session.add(_ballot_row(vote, entry, fresh, parsed))
    _recorded(uow, vote, "paper_ballot_corrected", teller, {"voter_id": voter.member_id, **details})
    uow.session.expire(participation)
    return Cast(vote.id, fresh, True)


def _paper_target(uow: UnitOfWork, teller: Actor, vote_id: str, member_id: int) -> tuple[Vote, Actor, ElectorateEntry]:
    """The vote (encrypted, keyed, open) and the voter's entry in its frozen electorate; only tellers ask."""
    teller.require(*casting.TELLER_ROLES)
    vote = get_vote(uow.session, teller, vote_id)
    ceremony = _ceremony(uow.session, vote)
    if ceremony.state == "keying":
        raise Conflict("the trustees have not made the election key yet: ballots open once they have")
    casting._require_open(vote, uow.now)
    voter = casting._member(uow.session, teller, member_id)
    return vote, voter, _entry_of(uow.session, vote, voter)


def _checked(uow: UnitOfWork, vote: Vote, credential: Any, ballot: Any) -> tuple[eballots.Ballot, str]:
    """The ballot decoded, made under ``credential`` and checked against the vote's election; its tracker."""
    try:
        encoding.point(credential, "credential")
    except EncodingError as exc:
        raise _bad(str(exc), "credential") from exc
    try:
        parsed = eballots.Ballot.from_json(ballot)
    except EncodingError as exc:
        raise _bad(str(exc), "ballot") from exc
    if encoding.hx(parsed.credential) != credential:
        raise _bad("the ballot was not made under the credential sent with it", "ballot.credential")
    try:
        eballots.verify_ballot(election_of(_ceremony(uow.session, vote)), parsed)
    except eballots.BallotRefused as exc:
        raise _bad(f"the ballot does not check: {exc}", "ballot") from exc
    return parsed, eballots.tracker(parsed)


def _is_current(uow: UnitOfWork, vote: Vote, entry: ElectorateEntry, tracker: str) -> bool:
    """Whether ``tracker`` is the voter's counted ballot already (a retry)."""
    seen = uow.session.get(EncryptedBallot, (vote.id, tracker))
    registered = uow.session.get(VoterCredential, (vote.id, entry.voter_key))
    return (seen is not None and not seen.replaced and registered is not None
            and seen.credential == registered.credential and seen.channel == PAPER)


def _latest(uow: UnitOfWork, vote: Vote, entry: ElectorateEntry, tracker: Any) -> str:
    """The voter's counted ballot, which the tracker from their slip must name."""
    registered = uow.session.get(VoterCredential, (vote.id, entry.voter_key))
    current = uow.session.scalar(select(EncryptedBallot.tracker).where(
        EncryptedBallot.vote_id == vote.id, EncryptedBallot.credential == (registered.credential if registered else ""),
        EncryptedBallot.replaced.is_(False)))
    if type(tracker) is not str or not encoding.HEX64.fullmatch(tracker):
        raise _bad("a tracker is 64 lowercase hexadecimal characters", "tracker")
    if tracker == current:
        return tracker
    seen = uow.session.get(EncryptedBallot, (vote.id, tracker))
    if seen is not None and seen.replaced:
        raise Conflict(TRACKER_REPLACED)
    raise Conflict(NOT_THE_LATEST)


def _refuse_taken(uow: UnitOfWork, vote: Vote, entry: ElectorateEntry, credential: str, tracker: str) -> None:
    """A ballot already on the board, or a credential already another voter's, is not cast again as this voter's."""
    if uow.session.get(EncryptedBallot, (vote.id, tracker)) is not None:
        raise Conflict("this ballot is on the board already: encrypt the paper ballot again")
    if uow.session.get(AuditedBallot, (vote.id, tracker)) is not None:  # §6: an audited ballot is never cast
        raise Conflict("this ballot was audited: it can never be cast; encrypt your choice again")
    owner = uow.session.scalar(select(VoterCredential.voter_key).where(
        VoterCredential.vote_id == vote.id, VoterCredential.credential == credential))
    used = uow.session.scalar(select(EncryptedBallot.tracker).where(
        EncryptedBallot.vote_id == vote.id, EncryptedBallot.credential == credential).limit(1))
    if (owner is not None and owner != entry.voter_key) or used is not None:
        raise Conflict("this credential is used already: the teller's client makes a fresh one for every paper ballot")


def _ballot_row(vote: Vote, entry: ElectorateEntry, tracker: str, parsed: eballots.Ballot) -> EncryptedBallot:
    return EncryptedBallot(vote_id=vote.id, tracker=tracker, credential=encoding.hx(parsed.credential),
                           ballot=parsed.to_json(), weight=entry.weight, replaced=False, channel=PAPER)


def _reason(reason: Any) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not text or len(text) > casting.MAX_REASON or "\x00" in text:
        raise InvalidInput("the reason is not valid", errors=[
            {"field": "reason", "message": f"give the reason in 1 to {casting.MAX_REASON} characters"}])
    return text


def _recorded(uow: UnitOfWork, vote: Vote, event: str, teller: Actor, details: dict[str, Any]) -> None:
    """Write the rows and the event now (as today's paper ballots: who entered it for whom, never the choice nor the
    tracker): a concurrent ballot of the same voter, online or paper, that committed first makes the bus decide this
    one again on what it wrote (``LostRace``), so the loser gets the refusal the state calls for."""
    try:
        _record(uow, vote, event, teller, details)
    except IntegrityError as exc:
        raise LostRace("this voter has already voted") from exc
