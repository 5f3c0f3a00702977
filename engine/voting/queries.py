"""Reading votes: the vote, turnout, the result, the bulletin board, receipts, a voter's own participation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, func, literal, select
from sqlalchemy.orm import Session

from engine.identity.actors import Actor
from engine.identity.models import Member
from engine.kernel.errors import Conflict, PermissionDenied
from engine.kernel.instances import get_instance
from engine.voting.counting import board
from engine.voting.counting.board import electorate_summary, tally_config
from engine.voting.models import Ballot, ElectorateEntry, Participation, ReplacedBallot, Vote
from engine.voting.voter_keys import voter_key


def summary(vote: Vote) -> dict[str, Any]:
    """What the process (and a calling process) gets back: small, enough to branch on."""
    result = vote.result or {}
    return {"vote_id": vote.id, "outcome": result.get("outcome"), "winner": result.get("winner"),
            "board_root": vote.board_root, "explanation": result.get("explanation", [])}


def voter_key_of(session: Session, vote: Vote, actor: Actor) -> str:
    """The caller's place in the electorate (themselves, or their household); 403 when they have none."""
    return _entry_of(session, vote, actor).voter_key


def _entry_of(session: Session, vote: Vote, actor: Actor) -> ElectorateEntry:
    """The caller's entry in the electorate (with its weight); 403 when they have none."""
    household = session.scalar(select(Member.household).where(Member.id == actor.member_id)) if vote.basis == "households" else None
    key = voter_key(vote.basis, actor.member_id, household, "resident" in actor.roles)
    entry = session.get(ElectorateEntry, (vote.id, key)) if key is not None else None
    if entry is None:
        raise PermissionDenied("you are not in this vote's electorate")
    return entry


# ---- reading ---------------------------------------------------------------------------------

def get_vote(session: Session, actor: Actor, vote_id: str) -> Vote:
    return actor.own(session.get(Vote, vote_id), "vote")


def votes_in_community(actor: Actor) -> Select[tuple[Vote]]:
    """The query for the votes of the caller's community: open ones first, soonest deadline first, then the closed
    ones, the latest closed first."""
    return (select(Vote).where(Vote.community_id == actor.community_id)
            .order_by(case((Vote.status == "open", 0), else_=1), case((Vote.status == "open", Vote.deadline)),
                      Vote.closed_at.desc(), Vote.id))


def electorate_of(session: Session, actor: Actor, vote_id: str) -> Select[tuple[ElectorateEntry]]:
    """The query for a vote's frozen electorate, by voter key."""
    vote = get_vote(session, actor, vote_id)
    return select(ElectorateEntry).where(ElectorateEntry.vote_id == vote.id).order_by(ElectorateEntry.voter_key)


def votes_of(session: Session, actor: Actor, instance_id: str) -> list[Vote]:
    instance = get_instance(session, actor, instance_id)
    return list(session.scalars(select(Vote).where(Vote.instance_id == instance.id).order_by(Vote.opened_at)))


def turnout(session: Session, vote: Vote) -> dict[str, Any]:
    """Live counts of who has voted — never what, in a secret vote."""
    rows = session.execute(
        select(Participation.channel, func.count(), ElectorateEntry.weight)
        .join(ElectorateEntry, (ElectorateEntry.vote_id == Participation.vote_id) & (ElectorateEntry.voter_key == Participation.voter_key))
        .where(Participation.vote_id == vote.id).group_by(Participation.channel, ElectorateEntry.weight)
    ).all()
    by_channel: dict[str, int] = {}
    weight = Decimal(0)
    for channel, count, entry_weight in rows:
        by_channel[channel] = by_channel.get(channel, 0) + count
        weight += Decimal(entry_weight) * count
    cast = sum(by_channel.values())
    return {"vote_id": vote.id, "status": vote.status, "eligible": vote.eligible_heads, "cast": cast,
            "by_channel": by_channel, "eligible_weight": vote.eligible_weight if vote.weighted else None,
            "cast_weight": str(weight) if vote.weighted else None}


def result(vote: Vote) -> dict[str, Any]:
    if vote.status != "closed":
        raise Conflict("the result is sealed until the vote closes; only the turnout is live")
    assert vote.result is not None
    return {**vote.result, "secrecy": secrecy(vote)}


def secrecy(vote: Vote) -> str:
    """The guarantee a vote's ballots had (docs/ballot-encryption.md §10): ``encrypted`` (the server cannot read
    them), ``server`` (secret from the API and the history, readable by whoever runs the database) or ``public``."""
    return vote.secrecy or ("server" if vote.secret else "public")


def bulletin_board(session: Session, vote: Vote) -> dict[str, Any]:
    if vote.status != "closed":
        raise Conflict("the bulletin board is published when the vote closes")
    if vote.secrecy is not None:
        raise Conflict("this vote's ballots are encrypted: its board is GET /api/votes/{id}/encrypted-board")
    entries = _board_entries(session, vote)
    assert vote.result is not None
    return board.document(tally_config(vote), electorate_summary(vote), entries, vote.result)


def check_receipt(session: Session, vote: Vote, receipt: str) -> dict[str, Any]:
    """Is the ballot behind this receipt recorded, and is it still the voter's current ballot?

    Before the close it says no more: whoever holds a receipt (a vote buyer collecting them)
    must not learn how it was voted. After the close the board shows every current ballot's
    choice by its fingerprint, so the check shows it too.
    """
    fingerprint = board.fingerprint(vote.id, receipt)
    choice = session.execute(select(Ballot.choice).where(Ballot.vote_id == vote.id, Ballot.fingerprint == fingerprint)).first()
    replaced = choice is None and session.scalar(select(literal(1)).where(
        ReplacedBallot.vote_id == vote.id, ReplacedBallot.fingerprint == fingerprint)) is not None
    closed = vote.status == "closed"
    return {"fingerprint": fingerprint, "found": choice is not None or replaced, "current": choice is not None,
            "replaced": replaced, "on_board": choice is not None and closed,
            "choice": choice.choice if choice is not None and closed else None}


def my_participation(session: Session, actor: Actor, vote: Vote) -> dict[str, Any]:
    try:
        key = voter_key_of(session, vote, actor)
    except PermissionDenied:
        return {"eligible": False, "voted": False}
    participation = session.get(Participation, (vote.id, key))
    if participation is None:
        return {"eligible": True, "voted": False}
    return {"eligible": True, "voted": True, "channel": participation.channel, "cast_at": participation.cast_at,
            "changes": participation.changes}


def public_ballots(session: Session, vote: Vote) -> list[dict[str, Any]]:
    """Who voted what, in a public vote only."""
    if vote.secret:
        raise PermissionDenied("this vote is secret: nobody can see who voted what")
    rows = session.execute(
        select(Ballot.voter_key, Ballot.choice, ElectorateEntry.label)
        .join(ElectorateEntry, (ElectorateEntry.vote_id == Ballot.vote_id) & (ElectorateEntry.voter_key == Ballot.voter_key))
        .where(Ballot.vote_id == vote.id).order_by(Ballot.voter_key)
    ).all()
    return [{"voter": r.label, "voter_key": r.voter_key, "choice": r.choice} for r in rows]


def _board_entries(session: Session, vote: Vote) -> list[dict[str, Any]]:
    rows = session.execute(select(Ballot.fingerprint, Ballot.choice, Ballot.weight).where(Ballot.vote_id == vote.id)).all()
    return board.board_entries([{"fingerprint": f, "choice": c, "weight": w} for f, c, w in rows], vote.weighted)


def _countable(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "fingerprint"}


# ---- the tellers' desk -----------------------------------------------------------------------

PAPER_EVENTS = ("paper_ballot_entered", "paper_ballot_corrected")
MAX_VOTERS_FOUND = 50
"""A teller's search returns at most this many voters."""
MAX_PAPER_ENTRIES = 1000
"""The list of paper entries shows at most the latest this many."""


def _require_teller(actor: Actor) -> None:
    from engine.voting.casting import TELLER_ROLES  # casting reads this module: imported when asked

    actor.require(*TELLER_ROLES)


def paper_voters(session: Session, actor: Actor, vote_id: str, search: str | None,
                 member_id: int | None = None) -> list[dict[str, Any]]:
    """For a teller: the members who may vote in the frozen electorate (as themselves or for their household) whose name,
    household or electorate label contains ``search`` (case-insensitive; every voter when empty), with whether and how
    their place has voted; at most ``MAX_VOTERS_FOUND``, by name. ``member_id``: that member only."""
    _require_teller(actor)
    vote = get_vote(session, actor, vote_id)
    text = " ".join((search or "").split()).casefold()
    entries = {e.voter_key: e for e in session.scalars(select(ElectorateEntry).where(ElectorateEntry.vote_id == vote.id))}
    voted = {p.voter_key: p for p in session.scalars(select(Participation).where(Participation.vote_id == vote.id))}
    found: list[dict[str, Any]] = []
    members = select(Member).where(Member.community_id == vote.community_id).order_by(Member.name, Member.id)
    if member_id is not None:
        members = members.where(Member.id == member_id)
    for member in session.scalars(members):
        key = voter_key(vote.basis, member.id, member.household, "resident" in (member.roles or []))
        entry = entries.get(key) if key is not None else None
        if entry is None:
            continue
        if text and not any(text in (value or "").casefold() for value in (member.name, member.household, entry.label)):
            continue
        participation = voted.get(key)
        found.append({"member_id": member.id, "name": member.name, "household": member.household, "voter_key": key,
                      "label": entry.label, "weight": entry.weight, "voted": participation is not None,
                      "channel": participation.channel if participation else None,
                      "cast_at": participation.cast_at if participation else None})
        if len(found) >= MAX_VOTERS_FOUND:
            break
    return found


def paper_entries(session: Session, actor: Actor, vote_id: str) -> list[dict[str, Any]]:
    """For a teller: every paper ballot entered or corrected in this vote, latest first, with the teller who did it,
    when, for which voter, and a correction's reason (never the choice: the history keeps it only in a public vote)."""
    from engine.kernel.models import Event

    _require_teller(actor)
    vote = get_vote(session, actor, vote_id)
    events = list(session.scalars(
        select(Event).where(Event.instance_id == vote.instance_id, Event.type.in_(PAPER_EVENTS))
        .order_by(Event.seq.desc()).limit(MAX_PAPER_ENTRIES)))
    events = [e for e in events if (e.input or {}).get("vote_id") == vote.id]
    ids = {e.actor_id for e in events} | {(e.input or {}).get("voter_id") for e in events}
    names: dict[int, str] = dict(session.execute(select(Member.id, Member.name).where(
        Member.community_id == vote.community_id, Member.id.in_([i for i in ids if isinstance(i, int)]))).all())
    return [{"seq": e.seq, "type": e.type, "at": e.at, "teller_id": e.actor_id, "teller": names.get(e.actor_id),
             "voter_id": (e.input or {}).get("voter_id"), "voter": names.get((e.input or {}).get("voter_id")),
             "reason": (e.input or {}).get("reason")} for e in events]
