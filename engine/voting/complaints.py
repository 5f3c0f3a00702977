"""Resolving complaints in the trustees' key generation (docs/ballot-encryption.md §4 step 2): the dealer's answer,
the disqualification of a dealer whose answer does not check or who did not answer in time, and the restart.

A complaint (``ceremony.publish_complaint``) blocks the election key. The dealer answers it by revealing the share
in clear; anyone can check it against the dealer's commitments (``trustees.resolve_complaint``). If it checks, the
complaint is dismissed and the complainant uses the revealed share. If not, or if nobody heard from the dealer
within ``answer_hours`` of the complaint and someone asks, the dealer is disqualified: the whole key generation
starts again in a new round without them, everyone dealing afresh, the old round's posts kept as the evidence —
or, when fewer than k trustees remain, the ceremony fails and the vote cannot open.
"""

from __future__ import annotations

from typing import Any

from engine.identity.actors import Actor
from engine.kernel.errors import Conflict, InvalidInput
from engine.kernel.unit_of_work import UnitOfWork
from engine.voting import ceremony_rounds
from engine.voting.ceremony import (
    _bad, _find, _keying, _locked, _posts, _post, _record, ceremony_state, make_key_when_ready, qualified,
)
from engine.voting.encryption import encoding
from engine.voting.encryption import trustees as etrustees
from engine.voting.encryption.group import EncodingError
from engine.voting.models import Ceremony, Vote

NOT_A_COMPLAINANT = "the complainant is another qualified trustee's number"
NOT_A_DEALER = "the dealer is a qualified trustee's number"


def answer(uow: UnitOfWork, actor: Actor, vote_id: str, complainant: Any, share: Any) -> dict[str, Any]:
    """Dealer i reveals the share it dealt to ``complainant``, who complained about it in this round. Checked against
    i's commitments at once: the complaint is dismissed, or i is disqualified and the key generation restarts."""
    vote, ceremony, i = _keying(uow, actor, vote_id)
    if type(complainant) is not int or complainant not in qualified(ceremony) or complainant == i:
        raise InvalidInput(NOT_A_COMPLAINANT, errors=[{"field": "complainant", "message": NOT_A_COMPLAINANT}])
    try:
        revealed = encoding.scalar(share, "share")
    except EncodingError as exc:
        raise _bad(str(exc), "share") from exc
    if _find(uow.session, vote.id, complainant, "complaint", i) is None:
        raise Conflict(f"trustee {complainant} has no complaint against you in this round: nothing to answer")
    if _find(uow.session, vote.id, i, "answer", complainant) is not None:
        _post(uow, vote, i, "answer", complainant, {"share": encoding.hx(revealed)})  # the same again, or a conflict
        return ceremony_state(uow.session, actor, vote_id)
    dealing_post = _find(uow.session, vote.id, i, "dealing", 0)
    assert dealing_post is not None  # a complaint needs the dealer's dealing
    guilty = etrustees.resolve_complaint(etrustees.Dealing.from_json(dealing_post.body["dealing"]), complainant, revealed)
    _post(uow, vote, i, "answer", complainant, {"share": encoding.hx(revealed)})
    _record(uow, vote, "complaint_answered", actor, {"trustee": i, "complainant": complainant,
                                                     "dismissed": guilty is None, "round": ceremony.round})
    if guilty is None:
        make_key_when_ready(uow, vote, ceremony)
    else:
        _disqualify(uow, vote, ceremony, i, complainant, ceremony_rounds.BAD_ANSWER, None)
    return ceremony_state(uow.session, actor, vote_id)


def disqualify_unanswered(uow: UnitOfWork, actor: Actor, vote_id: str, dealer: Any) -> dict[str, Any]:
    """Anyone in the vote's community may have a dealer disqualified once a complaint against them has gone
    unanswered for ``answer_hours``: the rule is mechanical, so no judgement is needed. A dealer who answered, or
    whose time has not run out, cannot be."""
    vote, ceremony = _locked(uow, actor, vote_id)
    if ceremony.state != "keying":
        raise Conflict(f"the key generation is over (the ceremony is {ceremony.state})")
    if type(dealer) is not int or dealer not in qualified(ceremony):
        raise InvalidInput(NOT_A_DEALER, errors=[{"field": "dealer", "message": NOT_A_DEALER}])
    answered = {(p.recipient, p.trustee) for p in _posts(uow.session, vote.id, "answer")}
    against = [p for p in _posts(uow.session, vote.id, "complaint") if p.recipient == dealer]
    pending = [p for p in against if (p.trustee, dealer) not in answered]
    if not against:
        raise Conflict(f"there is no complaint against trustee {dealer} in this round")
    if not pending:
        raise Conflict(f"trustee {dealer} answered every complaint against them and the answers check: "
                       "the complaints were dismissed")
    overdue = [p for p in pending if ceremony_rounds.deadline(ceremony, p) <= uow.now]
    if not overdue:
        first = min(ceremony_rounds.deadline(ceremony, p) for p in pending)
        raise Conflict(f"trustee {dealer} has until {first.isoformat()} to answer the complaint against them")
    _disqualify(uow, vote, ceremony, dealer, overdue[0].trustee, ceremony_rounds.NO_ANSWER, actor)
    return ceremony_state(uow.session, actor, vote_id)


def _disqualify(uow: UnitOfWork, vote: Vote, ceremony: Ceremony, dealer: int, complainant: int, reason: str,
                actor: Actor | None) -> None:
    """Dealer out; a new round for everyone left (fresh polynomials: nothing of this round is reused), or the
    ceremony fails when fewer than k trustees remain. The round advances either way, so that round r's posts are
    always the evidence against ``disqualified[r]``."""
    ended = ceremony.round
    ceremony.disqualified = [*ceremony.disqualified, dealer]
    ceremony.round = ended + 1
    _record(uow, vote, "trustee_disqualified", actor, {"trustee": dealer, "complainant": complainant,
                                                       "round": ended, "kind": reason})
    remaining = qualified(ceremony)
    if len(remaining) < ceremony.threshold:
        ceremony.state = "failed"
        _record(uow, vote, "ceremony_failed", None, {"round": ended, "count": len(remaining),
                                                     "threshold": ceremony.threshold})
    else:
        _record(uow, vote, "ceremony_restarted", None, {"round": ceremony.round, "trustees": remaining})
