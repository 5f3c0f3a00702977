"""What voting adds to an audit bundle: the published bulletin boards (encrypted votes' too) and each vote's ballot box."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.audit.bundles import bundle_section
from engine.audit.sealing import chain
from engine.voting import ceremony
from engine.voting.models import Ballot, ElectorateEntry, EncryptedBallot, Participation, ReplacedBallot, Vote
from engine.voting.queries import bulletin_board


@bundle_section("boards")
def boards(session: Session, ids: set[str], public: bool) -> list[dict[str, Any]]:
    """The published bulletin boards, less what the bound vote records already say (root, result)."""
    closed = session.scalars(select(Vote).where(Vote.instance_id.in_(ids), Vote.status == "closed",
                                           Vote.secrecy.is_(None)).order_by(Vote.id))
    # An encrypted vote's board is in ``encrypted_boards`` (below)
    boards = ((vote.id, bulletin_board(session, vote)) for vote in closed)
    return [{"vote_id": vote_id, "config": b["vote"], "electorate": b["electorate"], "ballots": b["ballots"]} for vote_id, b in boards]


@bundle_section("encrypted_boards")
def encrypted_boards(session: Session, ids: set[str], public: bool) -> list[dict[str, Any]]:
    """Each decided encrypted vote's board, the very document ``GET /api/votes/{id}/encrypted-board`` publishes (public
    data: ciphertexts, proofs, trustees' keys and factors, the result), in full and public bundles alike. The history
    binds it through the vote record (its Merkle root over the ballots, its result); its proofs bind the rest. A vote
    whose trustees are still decrypting has no board yet: its record says ``decrypting``."""
    decided = session.scalars(select(Vote).where(Vote.instance_id.in_(ids), Vote.status == "closed",
                                                 Vote.secrecy == "encrypted").order_by(Vote.id))
    return [{"vote_id": vote.id, "board": ceremony.encrypted_board(session, vote)} for vote in decided]


@bundle_section("ballot_boxes")
def ballot_boxes(session: Session, ids: set[str], public: bool) -> list[dict[str, Any]]:
    """Each vote's ballot box as its rows hold it, for ``verify`` to hold against the history.

    Ballots are not bound to the events one by one (that would say who voted what); what binds
    them is that the counts agree: as many ballots as participations as first-ballot events, as
    many replaced fingerprints as changes as change events. A full bundle also carries who took
    part and the frozen electorate, checked one by one; a public one, only the counts (turnout is
    public) and the replaced fingerprints (no choice, no voter).
    """
    out = []
    for vote in session.scalars(select(Vote).where(Vote.instance_id.in_(ids)).order_by(Vote.id)):
        taking_part = session.execute(select(
            Participation.voter_key, Participation.member_id, Participation.channel, Participation.teller_id,
            Participation.cast_at, Participation.changes).where(Participation.vote_id == vote.id).order_by(Participation.voter_key)).all()
        if vote.secrecy is None:
            stored = session.scalar(select(func.count()).select_from(Ballot).where(Ballot.vote_id == vote.id))
            replaced = sorted(session.scalars(select(ReplacedBallot.fingerprint).where(ReplacedBallot.vote_id == vote.id)))
        else:  # an encrypted vote: its ballots by tracker, the replaced ones marked
            rows = session.execute(select(EncryptedBallot.tracker, EncryptedBallot.replaced)
                                   .where(EncryptedBallot.vote_id == vote.id)).all()
            stored, replaced = sum(not r.replaced for r in rows), sorted(r.tracker for r in rows if r.replaced)
        box: dict[str, Any] = {
            "vote_id": vote.id, "instance_id": vote.instance_id, "turnout": len(taking_part),
            "changes": sum(p.changes for p in taking_part), "ballots": stored, "replaced": replaced,
        }
        if not public:
            box["participations"] = [{**p._asdict(), "cast_at": chain.timestamp(p.cast_at)} for p in taking_part]
            box["electorate"] = [dict(e._asdict()) for e in session.execute(select(
                ElectorateEntry.voter_key, ElectorateEntry.label, ElectorateEntry.weight).where(ElectorateEntry.vote_id == vote.id)
                .order_by(ElectorateEntry.voter_key))]
        out.append(box)
    return out
