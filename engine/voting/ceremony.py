"""Encrypted votes in the engine (docs/ballot-encryption.md, Integration): the trustees' key ceremony, voters'
credentials, casting encrypted ballots, the homomorphic tally at the close and the trustees' decryption.

Every check is ``engine.voting.encryption``'s; this module stores what passed (public data only) and records each
state change in the vote's instance history, like today's ballot events: who did what, never a choice.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.identity.actors import Actor
from engine.kernel.db import advisory_xact_lock
from engine.kernel.errors import Conflict, InvalidInput, PermissionDenied
from engine.kernel.instances import deliver, record_unloaded
from engine.kernel.models import Event, Instance
from engine.kernel.unit_of_work import UnitOfWork
from engine.voting import checked_ballots
from engine.voting.counting import board
from engine.voting.counting.board import electorate_summary, tally_config
from engine.voting.counting.encrypted import ENCRYPTED, result_from_counts
from engine.voting import ceremony_rounds
from engine.voting.counting.tally import tally
from engine.voting.encryption import ballots as eballots
from engine.voting.encryption import encoding
from engine.voting.encryption import tally as etally
from engine.voting.encryption import trustees as etrustees
from engine.voting.encryption.elgamal import Ciphertext
from engine.voting.encryption.group import EncodingError
from engine.voting.models import (
    AuditedBallot, Ceremony, CeremonyPost, EncryptedBallot, Participation, VoterCredential, Vote,
)
from engine.voting.queries import _entry_of, get_vote

DECRYPTED_MESSAGE = "result_decrypted"
"""Delivered to the vote's instance when k trustees' factors decrypted the tally (processes/vote.bpmn waits for it)."""
ENCRYPTABLE = ("yes_no_abstain", "plurality", "approval")
"""Methods whose encrypted tally goes through today's rules exactly: their rules read only the cast, the abstentions
(every method's last slot, docs/ballot-encryption.md §3) and each option's sums (``counting.tally.tally_sums``).
Ranked methods are not encrypted (§10)."""
BOARD_FORMAT = "yishi-encrypted-board/1"
ANSWER_HOURS = 24
"""How long a dealer has, by default, to answer a complaint before anyone may have them disqualified (docs §4)."""
MAX_ANSWER_HOURS = 24 * 30
BAD_ANSWER_HOURS = "answer_hours: whole hours from 1 to 720 (30 days)"
NOT_ANOTHER_DEALER = "the dealer is another qualified trustee's number"
REUSED_POLYNOMIAL = "a restarted key generation needs a fresh polynomial: these commitments were dealt in an earlier round"


# ---- configuration (vote.open) ---------------------------------------------------------------

def read_encryption(config: dict[str, Any], session: Session, community_id: int) -> tuple[list[int], int, int] | None:
    """The configuration's optional ``encryption: {"trustees": [member ids], "threshold": k, "answer_hours": h}``
    (h, how long a dealer has to answer a complaint, defaults to ``ANSWER_HOURS``); None when absent."""
    spec = config.get("encryption")
    if spec is None:
        return None
    def refuse(message: str) -> InvalidInput:
        return InvalidInput(message, errors=[{"field": "vote.encryption", "message": message}])
    if not isinstance(spec, dict) or not {"trustees", "threshold"} <= set(spec) <= {"trustees", "threshold", "answer_hours"}:
        raise refuse("encryption is {\"trustees\": [member ids], \"threshold\": k}, with \"answer_hours\" if wanted")
    ids, k, hours = spec["trustees"], spec["threshold"], spec.get("answer_hours", ANSWER_HOURS)
    if type(hours) is not int or not 1 <= hours <= MAX_ANSWER_HOURS:
        raise InvalidInput(BAD_ANSWER_HOURS, errors=[{"field": "vote.encryption.answer_hours", "message": BAD_ANSWER_HOURS}])
    if type(ids) is not list or not ids or any(type(i) is not int for i in ids) or len(set(ids)) != len(ids):
        raise refuse("trustees: a list of distinct member ids")
    if type(k) is not int or not 1 <= k <= len(ids):
        raise refuse("threshold: from 1 to the number of trustees")
    if not config.get("secret"):
        raise refuse("only a secret vote is encrypted")
    if config["method"] not in ENCRYPTABLE:
        raise refuse(f"encrypted ballots are for {', '.join(ENCRYPTABLE)} votes (see docs/ballot-encryption.md)")
    from engine.identity.models import Member

    found = set(session.scalars(select(Member.id).where(Member.community_id == community_id, Member.id.in_(ids))))
    if found != set(ids):
        raise refuse("every trustee must be a member of the community")
    return ids, k, hours


def check_weights(entries: list[dict[str, str]]) -> None:
    """An encrypted owners' tally weighs each ballot by its area in 0.01 m² (docs/ballot-encryption.md §7): an area
    with more decimals could not be counted exactly, so the vote refuses to open rather than fail at the close."""
    unfit = []
    for entry in entries:
        try:
            etally.weight_units(entry["weight"])
        except ValueError:
            unfit.append(f"{entry['label']} ({entry['weight']} m²)")
    if unfit:
        raise InvalidInput(f"encrypted ballots weigh areas in 0.01 m²; these owners' areas have more than two "
                           f"decimals: {', '.join(unfit[:5])}",
                           errors=[{"field": "vote.electorate", "message": "an area with more than two decimals"}])


def start(session: Session, vote: Vote, trustees: list[int], threshold: int, answer_hours: int = ANSWER_HOURS) -> None:
    session.add(Ceremony(vote_id=vote.id, threshold=threshold, trustees=trustees, state="keying", round=0,
                         disqualified=[], answer_hours=answer_hours))


# ---- reading ---------------------------------------------------------------------------------

def _ceremony(session: Session, vote: Vote) -> Ceremony:
    ceremony = session.get(Ceremony, vote.id)
    if ceremony is None:
        raise Conflict("this vote's ballots are not encrypted")
    return ceremony


def _posts(session: Session, vote_id: str, kind: str) -> list[CeremonyPost]:
    """This kind's posts in the ceremony's current round (earlier rounds' stay on record: ``complaints``)."""
    current = select(Ceremony.round).where(Ceremony.vote_id == vote_id).scalar_subquery()
    return list(session.scalars(select(CeremonyPost).where(CeremonyPost.vote_id == vote_id, CeremonyPost.kind == kind,
                                                           CeremonyPost.round == current)
                                .order_by(CeremonyPost.trustee, CeremonyPost.recipient)))


def _find(session: Session, vote_id: str, j: int, kind: str, recipient: int) -> CeremonyPost | None:
    """Trustee j's post of this kind (for ``recipient``) in the current round."""
    ceremony = session.get(Ceremony, vote_id)
    assert ceremony is not None
    return session.get(CeremonyPost, (vote_id, ceremony.round, j, kind, recipient))


def qualified(ceremony: Ceremony) -> list[int]:
    """The trustee numbers still in the ceremony: 1..n without the disqualified (numbers never move: Lagrange)."""
    return [j for j in range(1, len(ceremony.trustees) + 1) if j not in ceremony.disqualified]


def election_of(ceremony: Ceremony) -> eballots.Election:
    assert ceremony.election is not None and ceremony.fingerprint is not None
    return checked_ballots.election(ceremony.fingerprint, ceremony.election)


def ceremony_state(session: Session, actor: Actor, vote_id: str) -> dict[str, Any]:
    """The ceremony as anyone in the community sees it: trustees, state, what each has published, the election."""
    vote = get_vote(session, actor, vote_id)
    ceremony = _ceremony(session, vote)
    posts = list(session.scalars(select(CeremonyPost).where(CeremonyPost.vote_id == vote.id,
                                                            CeremonyPost.round == ceremony.round)
                                 .order_by(CeremonyPost.trustee, CeremonyPost.kind, CeremonyPost.recipient)))
    def public(kind: str) -> dict[int, Any]:
        return {p.trustee: p.body for p in posts if p.kind == kind}
    return {
        "vote_id": vote.id, "state": ceremony.state, "threshold": ceremony.threshold,
        "trustees": [{"number": j, "member_id": m} for j, m in enumerate(ceremony.trustees, 1)],
        "dealings": [{"trustee": t, **b} for t, b in public("dealing").items()],
        "key_shares": [b["key_share"] for b in public("key_share").values()],
        **ceremony_rounds.state_of(ceremony, posts, ceremony_rounds.earlier_posts(session, ceremony)),
        "decryptions": [b["partial"] for b in public("decryption").values()],
        "election": ceremony.election, "fingerprint": ceremony.fingerprint,
        "envelopes": [{"dealer": p.trustee, "recipient": p.recipient} for p in posts if p.kind == "envelope"],
        "tally": ceremony.tally,
        "you": ceremony.trustees.index(actor.member_id) + 1 if actor.member_id in ceremony.trustees else None,
    }


def envelopes_for(session: Session, actor: Actor, vote_id: str) -> list[dict[str, Any]]:
    """The envelopes other trustees addressed to the caller (opaque to the server: the trustee client opens them)."""
    vote = get_vote(session, actor, vote_id)
    j = _trustee_number(_ceremony(session, vote), actor)
    return [{"dealer": p.trustee, "envelope": p.body["envelope"]} for p in _posts(session, vote.id, "envelope")
            if p.recipient == j]


def encrypted_board(session: Session, vote: Vote) -> dict[str, Any]:
    """Everything ``yishi tally --verify`` needs: the election, the trustees' public data, every ballot (current and
    replaced, by tracker), the credentials with their weights, the tally, the factors and the result."""
    ceremony = _ceremony(session, vote)
    if ceremony.state != "decided":
        raise Conflict("the encrypted board is published once the trustees have decrypted the tally")
    rows = session.scalars(select(EncryptedBallot).where(EncryptedBallot.vote_id == vote.id).order_by(EncryptedBallot.tracker))
    entries = [_board_entry(b) for b in rows]
    return {
        "format": BOARD_FORMAT, "vote": tally_config(vote), "electorate": electorate_summary(vote),
        "weighted": vote.weighted, "election": ceremony.election,
        "turnout": _turnout_by_channel(session, vote.id),
        "dealings": [p.body["dealing"] for p in _posts(session, vote.id, "dealing")],
        "key_shares": [p.body["key_share"] for p in _posts(session, vote.id, "key_share")],
        "ballots": entries, "root": board.merkle_root(entries), "tally": ceremony.tally,
        "audited": _audited(session, vote.id),
        "decryptions": [p.body["partial"] for p in _posts(session, vote.id, "decryption")],
        "result": vote.result,
        **_disqualifications(session, ceremony),
    }


def _disqualifications(session: Session, ceremony: Ceremony) -> dict[str, Any]:
    """The evidence of each disqualification (docs §4 step 2), on a board whose ceremony had any: a board without
    stays exactly as it was."""
    if not ceremony.disqualified:
        return {}
    return {"disqualifications": ceremony_rounds.evidence(ceremony, ceremony_rounds.earlier_posts(session, ceremony))}


def _turnout_by_channel(session: Session, vote_id: str) -> dict[str, int]:
    """How many voters took part online and on paper (public, as the live turnout): the verifier holds the counted
    ballots of each channel against it."""
    rows = session.execute(select(Participation.channel, func.count()).where(Participation.vote_id == vote_id)
                           .group_by(Participation.channel)).all()
    return {channel: n for channel, n in sorted(rows)}


def _board_entry(row: EncryptedBallot) -> dict[str, Any]:
    """A ballot on the board with its channel: ``online`` (the voter's device) or ``paper`` (a teller's client, §13.1)."""
    return {"tracker": row.tracker, "ballot": row.ballot, "weight": row.weight, "replaced": row.replaced,
            "channel": row.channel}


# ---- the trustees' key ceremony --------------------------------------------------------------

def _trustee_number(ceremony: Ceremony, actor: Actor) -> int:
    if actor.member_id not in ceremony.trustees:
        raise PermissionDenied("you are not a trustee of this vote")
    j = ceremony.trustees.index(actor.member_id) + 1
    if j in ceremony.disqualified:
        raise PermissionDenied(f"trustee {j} was disqualified from this vote's key ceremony")
    return j


def _locked(uow: UnitOfWork, actor: Actor, vote_id: str) -> tuple[Vote, Ceremony]:
    """The vote and its ceremony, read after taking the vote's instance row: the ceremony's steps (and the close,
    which takes the same row first) run one at a time, each seeing what the one before it committed."""
    vote = get_vote(uow.session, actor, vote_id)
    uow.session.execute(select(Instance.id).where(Instance.id == vote.instance_id).with_for_update())
    ceremony = uow.session.get(Ceremony, vote.id, populate_existing=True)
    if ceremony is None:
        raise Conflict("this vote's ballots are not encrypted")
    return vote, ceremony


def _keying(uow: UnitOfWork, actor: Actor, vote_id: str) -> tuple[Vote, Ceremony, int]:
    vote, ceremony = _locked(uow, actor, vote_id)
    j = _trustee_number(ceremony, actor)
    if ceremony.state != "keying":
        raise Conflict(f"the election key is made already (the ceremony is {ceremony.state})")
    return vote, ceremony, j


def _bad(message: str, field: str = "body") -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def _post(uow: UnitOfWork, vote: Vote, j: int, kind: str, recipient: int, body: dict[str, Any]) -> None:
    existing = _find(uow.session, vote.id, j, kind, recipient)
    if existing is not None:
        if existing.body == body:
            return
        raise Conflict(f"you have published your {kind.replace('_', ' ')} already; it cannot be changed")
    uow.session.add(CeremonyPost(vote_id=vote.id, round=_ceremony(uow.session, vote).round, trustee=j, kind=kind,
                                 recipient=recipient, body=body))


def _record(uow: UnitOfWork, vote: Vote, event: str, actor: Actor | None, details: dict[str, Any]) -> None:
    record_unloaded(uow, vote.instance_id, [(event, {"vote_id": vote.id, **details}, actor)])


def publish_dealing(uow: UnitOfWork, actor: Actor, vote_id: str, dealing: Any, envelope_key: Any) -> dict[str, Any]:
    """Trustee j's commitments with the proof of knowledge of its constant term, and the public key that others'
    envelopes to j are encrypted to (the trustee client's concern; the server only relays)."""
    vote, ceremony, j = _keying(uow, actor, vote_id)
    try:
        parsed = etrustees.Dealing.from_json(dealing)
        encoding.point(envelope_key, "envelope_key")
    except EncodingError as exc:
        raise _bad(str(exc), "dealing") from exc
    if parsed.dealer != j:
        raise _bad(f"you are trustee {j}, not {parsed.dealer}", "dealing.dealer")
    try:
        etrustees.verify_dealing(vote.id, parsed, ceremony.threshold)
    except etrustees.BadTrustee as exc:
        raise _bad(str(exc), "dealing") from exc
    if ceremony.round and _dealt_before(uow.session, vote.id, j, parsed):
        raise InvalidInput(REUSED_POLYNOMIAL, errors=[{"field": "dealing", "message": REUSED_POLYNOMIAL}])
    if _find(uow.session, vote.id, j, "dealing", 0) is None:
        _record(uow, vote, "trustee_dealt", actor, {"trustee": j})
    _post(uow, vote, j, "dealing", 0, {"dealing": parsed.to_json(), "envelope_key": envelope_key})
    return ceremony_state(uow.session, actor, vote_id)


def _dealt_before(session: Session, vote_id: str, j: int, dealing: etrustees.Dealing) -> bool:
    """Whether trustee j dealt any of these commitments in an earlier round (a polynomial reused after a restart)."""
    now = {encoding.hx(a) for a in dealing.commitments}
    earlier = session.scalars(select(CeremonyPost.body).where(
        CeremonyPost.vote_id == vote_id, CeremonyPost.trustee == j, CeremonyPost.kind == "dealing",
        CeremonyPost.round < select(Ceremony.round).where(Ceremony.vote_id == vote_id).scalar_subquery()))
    return any(now & set(body["dealing"]["commitments"]) for body in earlier)


def publish_envelopes(uow: UnitOfWork, actor: Actor, vote_id: str, envelopes: dict[str, Any]) -> dict[str, Any]:
    """Trustee j's encrypted shares for the others, relayed by the server (it cannot open them)."""
    vote, ceremony, j = _keying(uow, actor, vote_id)
    if _find(uow.session, vote.id, j, "dealing", 0) is None:
        raise Conflict("publish your dealing first")
    wanted = {str(i) for i in qualified(ceremony) if i != j}
    if not isinstance(envelopes, dict) or set(envelopes) != wanted or any(
            type(e) is not str or not 1 <= len(e) <= 4000 for e in envelopes.values()):
        raise _bad(f"one envelope (a string) for each other trustee: {', '.join(sorted(wanted, key=int))}", "envelopes")
    fresh = _find(uow.session, vote.id, j, "envelope", int(min(wanted, key=int))) is None if wanted else False
    for recipient, envelope in envelopes.items():
        _post(uow, vote, j, "envelope", int(recipient), {"envelope": envelope})
    if fresh:
        _record(uow, vote, "trustee_shares_sent", actor, {"trustee": j})
    return ceremony_state(uow.session, actor, vote_id)


def publish_complaint(uow: UnitOfWork, actor: Actor, vote_id: str, dealer: int) -> dict[str, Any]:
    """Trustee j says dealer's share does not open or does not check against the dealer's commitments: the key is not
    made until the dealer answers with the share in clear (``complaints.answer``) or is disqualified. The complaint
    keeps its time: the dealer's ``answer_hours`` run from it."""
    vote, ceremony, j = _keying(uow, actor, vote_id)
    if type(dealer) is not int or dealer not in qualified(ceremony) or dealer == j:
        raise InvalidInput(NOT_ANOTHER_DEALER, errors=[{"field": "dealer", "message": NOT_ANOTHER_DEALER}])
    if _find(uow.session, vote.id, dealer, "dealing", 0) is None:
        raise Conflict(f"trustee {dealer} has not dealt in this round: there is no share to complain about yet")
    if _find(uow.session, vote.id, j, "complaint", dealer) is None:
        _post(uow, vote, j, "complaint", dealer, {"dealer": dealer, "filed_at": uow.now.isoformat()})
        _record(uow, vote, "trustee_complained", actor, {"trustee": j, "dealer": dealer})
    return ceremony_state(uow.session, actor, vote_id)


def publish_key_share(uow: UnitOfWork, actor: Actor, vote_id: str, key_share: Any) -> dict[str, Any]:
    """Trustee j's verification key X_j with its proof, checked against every dealer's commitments; when all n
    have checked, the election key y = Σ A_i0 is made and the vote opens."""
    vote, ceremony, j = _keying(uow, actor, vote_id)
    n = len(qualified(ceremony))
    dealings = [etrustees.Dealing.from_json(p.body["dealing"]) for p in _posts(uow.session, vote.id, "dealing")]
    if len(dealings) != n:
        raise Conflict(f"{len(dealings)} of {n} trustees have dealt; wait for the others")
    try:
        share = etrustees.KeyShare.from_json(key_share)
    except EncodingError as exc:
        raise _bad(str(exc), "key_share") from exc
    if share.trustee != j:
        raise _bad(f"you are trustee {j}, not {share.trustee}", "key_share.trustee")
    try:
        etrustees.verify_key_share(vote.id, dealings, share)
    except etrustees.BadTrustee as exc:
        raise _bad(str(exc), "key_share") from exc
    if _find(uow.session, vote.id, j, "key_share", 0) is not None:
        _post(uow, vote, j, "key_share", 0, {"key_share": share.to_json()})  # the same again: nothing to do
        return ceremony_state(uow.session, actor, vote_id)
    _post(uow, vote, j, "key_share", 0, {"key_share": share.to_json()})
    _record(uow, vote, "trustee_key_published", actor, {"trustee": j})
    make_key_when_ready(uow, vote, ceremony)
    return ceremony_state(uow.session, actor, vote_id)


def make_key_when_ready(uow: UnitOfWork, vote: Vote, ceremony: Ceremony) -> None:
    """When every qualified trustee's key share checked and every complaint of the round was dismissed (answered
    with a share that checks), the election key y = Σ A_i0 over the qualified dealers is made and the vote opens."""
    uow.session.flush()
    shares = [etrustees.KeyShare.from_json(p.body["key_share"]) for p in _posts(uow.session, vote.id, "key_share")]
    answered = {(p.recipient, p.trustee) for p in _posts(uow.session, vote.id, "answer")}
    pending = [p for p in _posts(uow.session, vote.id, "complaint") if (p.trustee, p.recipient) not in answered]
    if len(shares) != len(qualified(ceremony)) or pending:
        return
    dealings = [etrustees.Dealing.from_json(p.body["dealing"]) for p in _posts(uow.session, vote.id, "dealing")]
    election = eballots.make_election(vote.id, etrustees.election_key(dealings), vote.method,
                                      [o["id"] for o in vote.options], ceremony.threshold,
                                      [s.key for s in sorted(shares, key=lambda s: s.trustee)],
                                      disqualified=sorted(ceremony.disqualified))
    ceremony.election, ceremony.fingerprint = election.descriptor(), election.fingerprint.hex()
    ceremony.state, vote.status = "open", "open"
    _record(uow, vote, "election_key_made", None, {"fingerprint": ceremony.fingerprint})


# ---- credentials and ballots -----------------------------------------------------------------

def register_credential(uow: UnitOfWork, actor: Actor, vote_id: str, credential: Any,
                        replace: bool = False) -> dict[str, Any]:
    """The caller's credential public key C, bound to their entry in the frozen electorate (one per entry).

    ``replace``: a voter who lost their voting key before voting registers another in its place (docs §5), only
    while no ballot was cast for their entry (online or on paper) — ``_unused_credential`` says why that is safe."""
    vote = get_vote(uow.session, actor, vote_id)
    ceremony = _ceremony(uow.session, vote)
    if ceremony.state == "failed":
        raise Conflict("the trustees' key ceremony failed: this vote cannot open (see its ceremony)")
    if ceremony.state not in ("keying", "open"):
        raise Conflict("the vote is closed")
    entry = _entry_of(uow.session, vote, actor)
    try:
        encoding.point(credential, "credential")
    except EncodingError as exc:
        raise _bad(str(exc), "credential") from exc
    _refuse_paper_voter(uow, vote, entry)
    existing = uow.session.get(VoterCredential, (vote.id, entry.voter_key))
    if existing is not None:
        if existing.credential == credential:
            return {"vote_id": vote.id, "credential": credential, "weight": entry.weight}
        if not replace:
            raise Conflict("a credential is registered for you (or your household) in this vote already")
        existing = _unused_credential(uow, vote, entry)
    taken = uow.session.scalar(select(VoterCredential.voter_key).where(
        VoterCredential.vote_id == vote.id, VoterCredential.credential == credential))
    used = uow.session.scalar(select(EncryptedBallot.tracker).where(
        EncryptedBallot.vote_id == vote.id, EncryptedBallot.credential == credential).limit(1))
    if taken is not None or used is not None:
        raise Conflict("this credential is another voter's")
    if existing is None:
        uow.session.add(VoterCredential(vote_id=vote.id, voter_key=entry.voter_key, credential=credential))
        _record(uow, vote, "credential_registered", actor, {})
    else:
        existing.credential = credential
        _record(uow, vote, "credential_registered", actor, {"replaced": True})
    return {"vote_id": vote.id, "credential": credential, "weight": entry.weight}


CREDENTIAL_USED = ("a ballot was cast for you (or your household) in this vote: its voting key cannot be replaced; "
                   "vote with the voting key you have, or ask a teller")


def _unused_credential(uow: UnitOfWork, vote: Vote, entry: Any) -> VoterCredential:
    """The entry's registered credential, once it is sure that no ballot was or will be cast under it.

    A ballot cast under the old credential and committed after the new one replaced it would count, and the voter
    could then cast under the new one too. So the replacement takes the vote's casting lock exclusively: every cast and
    audit holds it shared from the moment it locks its tracker (``_lock_tracker``) until it commits, and reads the
    credential only then. The replacement therefore waits for the casts under way, sees any ballot they committed
    (a participation, as the paper path sees one before it replaces an unused online credential: ``encrypted_paper``),
    and the casts after it read the new credential and refuse a ballot made under the old one. SQLite's units of work
    take turns anyway."""
    advisory_xact_lock(uow.session.connection(), _casting_lock(vote.id))
    registered = uow.session.get(VoterCredential, (vote.id, entry.voter_key), populate_existing=True,
                                 with_for_update=True)
    assert registered is not None  # credentials are replaced, never removed
    voted = uow.session.get(Participation, (vote.id, entry.voter_key), populate_existing=True)
    cast_under = uow.session.scalar(select(EncryptedBallot.tracker).where(
        EncryptedBallot.vote_id == vote.id, EncryptedBallot.credential == registered.credential).limit(1))
    if voted is not None or cast_under is not None:
        raise Conflict(CREDENTIAL_USED)
    return registered


def _casting_lock(vote_id: str) -> int:
    digest = hashlib.sha256(f"yishi-casting-lock/1\0{vote_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _refuse_paper_voter(uow: UnitOfWork, vote: Vote, entry: Any) -> None:
    """A voter whose paper ballot a teller entered (§13.1) changes it only through a teller, as in a plaintext vote."""
    participation = uow.session.get(Participation, (vote.id, entry.voter_key))
    if participation is not None and participation.channel == "paper":
        raise Conflict("your ballot was entered on paper by a teller; ask a teller to correct it")


@dataclass(frozen=True)
class Cast:
    vote_id: str
    tracker: str
    changed: bool


def cast(uow: UnitOfWork, actor: Actor, vote_id: str, ballot: Any) -> Cast:
    """Check an encrypted ballot's proofs and signature and store it; the caller's last ballot counts.

    Sent again (a retry), the same ballot gets the same answer; a ballot made for another vote, or under another
    voter's credential, is refused; a ballot that was replaced cannot come back."""
    from engine.voting.casting import _close_if_everyone_voted, _require_open

    vote = get_vote(uow.session, actor, vote_id)
    ceremony = _ceremony(uow.session, vote)
    if ceremony.state == "keying":
        raise Conflict("the trustees have not made the election key yet: ballots open once they have")
    _require_open(vote, uow.now)
    entry = _entry_of(uow.session, vote, actor)
    _refuse_paper_voter(uow, vote, entry)
    registered = uow.session.get(VoterCredential, (vote.id, entry.voter_key))
    if registered is None:
        raise Conflict("register your credential for this vote first")
    election = election_of(ceremony)
    ahead = checked_ballots.remembered(election, ballot)  # its proofs checked before this transaction began
    try:
        parsed = ahead or eballots.Ballot.from_json(ballot)
    except EncodingError as exc:
        raise _bad(str(exc), "ballot") from exc
    if encoding.hx(parsed.credential) != registered.credential:
        raise _bad("this ballot was made under another voter's credential: it cannot be cast as yours", "ballot.credential")
    try:
        if ahead is None:
            eballots.verify_ballot(election, parsed)
    except eballots.BallotRefused as exc:
        raise _bad(f"the ballot does not check: {exc}", "ballot") from exc
    tracker = eballots.tracker(parsed)
    _lock_tracker(uow, vote.id, tracker)
    registered = uow.session.get(VoterCredential, (vote.id, entry.voter_key), populate_existing=True)
    if registered is None or encoding.hx(parsed.credential) != registered.credential:  # replaced while this was checked
        raise Conflict("your voting key was replaced: this ballot was made under the old one; encrypt your choice again")
    if uow.session.get(AuditedBallot, (vote.id, tracker)) is not None:
        raise Conflict("this ballot was audited: it can never be cast; encrypt your choice again")
    seen = uow.session.get(EncryptedBallot, (vote.id, tracker))
    participation = uow.session.get(Participation, (vote.id, entry.voter_key))
    if seen is not None:
        if seen.replaced:
            raise Conflict("this ballot was replaced by a later one: it cannot be cast again")
        return Cast(vote.id, tracker, participation is not None and participation.changes > 0)  # a retry
    if participation is not None and participation.member_id != actor.member_id:
        raise Conflict("your household has already voted: one ballot per household, changed only by whoever cast it")
    current = uow.session.scalars(select(EncryptedBallot).where(
        EncryptedBallot.vote_id == vote.id, EncryptedBallot.credential == registered.credential,
        EncryptedBallot.replaced.is_(False))).all()
    for old in current:
        old.replaced = True
    uow.session.add(EncryptedBallot(vote_id=vote.id, tracker=tracker, credential=registered.credential,
                                    ballot=parsed.to_json(), weight=entry.weight, replaced=False))
    if participation is None:
        uow.session.add(Participation(vote_id=vote.id, voter_key=entry.voter_key, member_id=actor.member_id,
                                      channel="online", teller_id=None, cast_at=uow.now, changes=0))
        _record(uow, vote, "ballot_cast", actor, {"channel": "online"})
        changed = False
    else:
        participation.changes += 1
        _record(uow, vote, "ballot_changed", actor, {"channel": "online"})
        changed = True
    _close_if_everyone_voted(uow, vote)
    return Cast(vote.id, tracker, changed)


# ---- Benaloh's cast-or-audit (docs §6) and finding a tracker --------------------------------------

TRACKER = re.compile(r"[0-9a-f]{64}")


def _tracker_of(tracker: Any) -> str:
    if type(tracker) is not str or TRACKER.fullmatch(tracker) is None:
        raise _bad("a tracker is 64 lowercase hexadecimal characters", "tracker")
    return tracker


def _lock_tracker(uow: UnitOfWork, vote_id: str, tracker: str) -> None:
    """Casting and auditing the same tracker take turns (PostgreSQL: a transaction-scoped advisory lock on the
    (vote, tracker) pair; SQLite's units of work take turns anyway), so that of an audit and a cast of one ballot
    racing each other exactly one wins: each checks the other's table only once it holds the lock, and under
    READ COMMITTED that check sees whatever the other committed. Other trackers never wait."""
    advisory_xact_lock(uow.session.connection(), _casting_lock(vote_id), shared=True)  # see _unused_credential
    advisory_xact_lock(uow.session.connection(), _tracker_lock(vote_id, tracker))


def _tracker_lock(vote_id: str, tracker: str) -> int:
    digest = hashlib.sha256(f"yishi-tracker-lock/1\0{vote_id}\0{tracker}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _audited(session: Session, vote_id: str) -> list[str]:
    return list(session.scalars(select(AuditedBallot.tracker).where(AuditedBallot.vote_id == vote_id)
                                .order_by(AuditedBallot.tracker)))


@dataclass(frozen=True)
class Audited:
    vote_id: str
    tracker: str


def audit_ballot(uow: UnitOfWork, actor: Actor, vote_id: str, tracker: Any) -> Audited:
    """The voter audits a ballot instead of casting it: the server records its tracker, and will never cast it.

    Only the tracker comes to the server: the randomness that opens the ballot stays on the voter's device (the
    booth shows the opening there and offers it as a file). The server holding it would be the server holding a
    choice linked to whoever audited it — and, as the voter's credential signs every ballot, a choice the voter
    intended. The history records that the caller audited a ballot (no tracker: nothing pairs the caller with the
    board's audited list). The same tracker again is answered the same; one cast already is refused."""
    tracker = _tracker_of(tracker)
    vote = get_vote(uow.session, actor, vote_id)
    ceremony = _ceremony(uow.session, vote)
    if ceremony.state == "keying":
        raise Conflict("the trustees have not made the election key yet: ballots open once they have")
    from engine.voting.casting import _require_open

    _require_open(vote, uow.now)
    _entry_of(uow.session, vote, actor)
    _lock_tracker(uow, vote.id, tracker)
    if uow.session.get(EncryptedBallot, (vote.id, tracker)) is not None:
        raise Conflict("this ballot was cast: it cannot be audited (its opening would show how it votes)")
    if uow.session.get(AuditedBallot, (vote.id, tracker)) is None:
        _refuse_beyond_audit_bound(uow, vote, actor)
        uow.session.add(AuditedBallot(vote_id=vote.id, tracker=tracker))
        _record(uow, vote, "ballot_audited", actor, {})
    return Audited(vote.id, tracker)


MAX_AUDITS = 20
"""The ballots one voter may audit in one vote (docs §6): enough to check a device many times over, and a bound on
how many made-up trackers one voter can put on the board's audited list."""


def _refuse_beyond_audit_bound(uow: UnitOfWork, vote: Vote, actor: Actor) -> None:
    """Count the caller's audits in the vote's history (its ``ballot_audited`` events, which carry no tracker), so
    that the bound needs no link between a voter and a tracker. The caller's audits take turns (PostgreSQL: an
    advisory lock on (vote, member), counted once it is held; SQLite's units of work take turns anyway), so that two
    racing audits never both take the last one."""
    digest = hashlib.sha256(f"yishi-audits-lock/1\0{vote.id}\0{actor.member_id}".encode()).digest()
    advisory_xact_lock(uow.session.connection(), int.from_bytes(digest[:8], "big", signed=True))
    audits = uow.session.scalar(select(func.count()).select_from(Event).where(
        Event.instance_id == vote.instance_id, Event.type == "ballot_audited", Event.actor_id == actor.member_id))
    if audits >= MAX_AUDITS:
        raise Conflict(f"you have audited {MAX_AUDITS} ballots in this vote, the most one voter may: cast your ballot")


def find_tracker(session: Session, actor: Actor, vote_id: str, tracker: Any) -> dict[str, Any]:
    """Where a tracker stands on an encrypted vote's board: ``counted`` (the last ballot of its credential: it
    counts, or will unless its voter votes again before the close), ``replaced``, ``audited`` (never counted) or
    ``not_found``. ``decided``: whether the result is out (the count is final). No identity either way."""
    tracker = _tracker_of(tracker)
    vote = get_vote(session, actor, vote_id)
    ceremony = _ceremony(session, vote)
    row = session.get(EncryptedBallot, (vote.id, tracker))
    if row is not None:
        status = "replaced" if row.replaced else "counted"
    elif session.get(AuditedBallot, (vote.id, tracker)) is not None:
        status = "audited"
    else:
        status = "not_found"
    return {"vote_id": vote.id, "tracker": tracker, "status": status, "decided": ceremony.state == "decided"}


def my_credential(session: Session, actor: Actor, vote_id: str) -> dict[str, Any]:
    """The credential public key registered for the caller's entry in the electorate (null before they register one),
    so that their device finds its secret, or asks for it to be typed in; ``replaceable`` while no ballot was cast for
    the entry (a lost key may then be replaced: ``register_credential``). 403 when they are not in the electorate."""
    vote = get_vote(session, actor, vote_id)
    _ceremony(session, vote)
    entry = _entry_of(session, vote, actor)
    registered = session.get(VoterCredential, (vote.id, entry.voter_key))
    voted = session.get(Participation, (vote.id, entry.voter_key)) is not None
    return {"vote_id": vote.id, "credential": registered.credential if registered else None, "weight": entry.weight,
            "replaceable": registered is not None and not voted}


# ---- the close and the decryption --------------------------------------------------------------

def close(session: Session, vote: Vote, now: Any) -> bool:
    """vote.close for an encrypted vote: the homomorphic tally of each credential's last ballot (heads, and in an
    owners' vote weights in 0.01 m²), then the trustees decrypt. True when the result waits for them."""
    ceremony = _ceremony(session, vote)
    vote.closed_at = now
    if ceremony.state in ("keying", "failed"):  # the key was never made: nobody could vote
        why = ("The trustees' key ceremony failed (too few trustees left qualified to reach the threshold): "
               "no ballot could be cast." if ceremony.state == "failed" else
               "The trustees did not make the election key before the vote closed: no ballot could be cast.")
        vote.result = {**tally([], tally_config(vote), electorate_summary(vote)), "secrecy": ENCRYPTED,
                       "explanation": [why]}
        vote.board_root = board.merkle_root([])
        ceremony.state, vote.status = "decided", "closed"
        return False
    election = election_of(ceremony)
    rows = session.execute(select(EncryptedBallot.tracker, EncryptedBallot.ballot, EncryptedBallot.weight,
                                  EncryptedBallot.replaced, EncryptedBallot.channel)
                           .where(EncryptedBallot.vote_id == vote.id).order_by(EncryptedBallot.tracker)).all()
    counted = [(etally.stored_ciphertexts(r.ballot), r.weight) for r in rows if not r.replaced]  # proofs checked at the cast
    ciphertexts, bounds = _sums(election, counted, vote.weighted)
    ceremony.tally = {"ciphertexts": [c.to_json() for c in ciphertexts], "bounds": bounds}
    vote.board_root = board.merkle_root([_board_entry(r) for r in rows])
    ceremony.state, vote.status = "decrypting", "decrypting"
    return True


def _sums(election: eballots.Election, counted: list[tuple[list[Ciphertext], str]],
          weighted: bool) -> tuple[list[Ciphertext], list[int]]:
    """The heads sums and, in an owners' vote, the weighted sums, from one pass over the ballots (by weight)."""
    width = len(election.slots)
    groups = etally.sums_by_weight(width, [(c, etally.weight_units(w) if weighted else 1) for c, w in counted])
    heads, bounds = etally.heads_sum(groups, width), [len(counted)] * width
    if not weighted:
        return heads, bounds
    return heads + etally.weighted_sum(groups, width), bounds + [sum(etally.weight_units(w) for _, w in counted)] * width


def publish_decryption(uow: UnitOfWork, actor: Actor, vote_id: str, partial: Any) -> dict[str, Any]:
    """Trustee j's decryption factors with proofs against their published verification key. A factor that does not
    check names the trustee and is refused. With k valid ones the tally is decrypted, counted under the vote's rule,
    published, and the vote's process is told (``result_decrypted``)."""
    vote, ceremony = _locked(uow, actor, vote_id)
    j = _trustee_number(ceremony, actor)
    if ceremony.state != "decrypting":
        raise Conflict(f"there is nothing to decrypt: the ceremony is {ceremony.state}")
    try:
        parsed = etrustees.Partial.from_json(partial)
    except EncodingError as exc:
        raise _bad(str(exc), "partial") from exc
    if parsed.trustee != j:
        raise _bad(f"you are trustee {j}, not {parsed.trustee}", "partial.trustee")
    election = election_of(ceremony)
    assert ceremony.tally is not None
    sums = [Ciphertext.from_json(c, allow_identity=True) for c in ceremony.tally["ciphertexts"]]
    mine = _find(uow.session, vote.id, j, "key_share", 0)
    assert mine is not None  # every qualified trustee published one before the key was made
    share = etrustees.KeyShare.from_json(mine.body["key_share"])
    try:
        etrustees.verify_partial(election.fingerprint, share, sums, parsed)
    except etrustees.BadTrustee as exc:
        raise InvalidInput(f"trustee {exc.trustee}'s decryption is refused: {exc.reason}",
                           errors=[{"field": "partial", "message": str(exc)}], trustee=exc.trustee) from exc
    if _find(uow.session, vote.id, j, "decryption", 0) is not None:
        _post(uow, vote, j, "decryption", 0, {"partial": parsed.to_json()})  # raises unless it is the same again
        return ceremony_state(uow.session, actor, vote_id)
    _post(uow, vote, j, "decryption", 0, {"partial": parsed.to_json()})
    _record(uow, vote, "trustee_decrypted", actor, {"trustee": j})
    uow.session.flush()
    partials = [etrustees.Partial.from_json(p.body["partial"]) for p in _posts(uow.session, vote.id, "decryption")]
    if len(partials) >= ceremony.threshold:
        _decide(uow, vote, ceremony, election, sums, partials)
    return ceremony_state(uow.session, actor, vote_id)


def _decide(uow: UnitOfWork, vote: Vote, ceremony: Ceremony, election: eballots.Election,
            sums: list[Ciphertext], partials: list[etrustees.Partial]) -> None:
    assert ceremony.tally is not None
    shares = [etrustees.KeyShare.from_json(p.body["key_share"]) for p in _posts(uow.session, vote.id, "key_share")]
    factors = etrustees.combine(partials, ceremony.threshold)
    counts = [etally.discrete_log(s.beta - f, bound) for s, f, bound in zip(sums, factors, ceremony.tally["bounds"])]
    if not etally.check_counts(sums, factors, counts):  # pragma: no cover - discrete_log found them
        raise Conflict("the decrypted counts do not check")
    used = sorted(p.trustee for p in partials)[:ceremony.threshold]
    vote.result = result_from_counts(tally_config(vote), electorate_summary(vote), list(election.slots), counts,
                                     ceremony.tally["bounds"], vote.weighted, used)
    ceremony.tally = {**ceremony.tally, "counts": counts, "trustees": used}
    ceremony.state, vote.status = "decided", "closed"
    _record(uow, vote, "vote_decrypted", None, {"trustees": used})
    uow.publish(f"vote {vote.id} decrypted")
    instance = uow.session.get(Instance, vote.instance_id)
    uow.session.refresh(instance)
    deliver(uow, instance, DECRYPTED_MESSAGE, {}, None)
