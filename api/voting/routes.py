"""Votes: configuration, electorate, casting with receipts, paper ballots, turnout, result and board."""

from __future__ import annotations

from typing import Any

from flask import request

from api.auth import actor, bearer_token
from api.voting import ballots
from api.views import Blueprint, engine, reader
from api.voting.schemas import (
    CastSchema, ElectorateEntrySchema, IdempotencyHeader, PaperBallotSchema, PaperCorrectionSchema, PaperEntrySchema, PaperVoterQuery, PaperVoterSchema, ParticipationSchema, PublicBallotSchema, ReceiptCheckResultSchema, ReceiptCheckSchema, ReceiptSchema, TurnoutSchema, VoteSchema,
)
from api.schemas import PageQuery, page_of
from api.voting.schemas import (
    AuditedSchema, AuditSchema, CeremonySchema, ComplaintSchema, CredentialResultSchema, CredentialSchema, DealingSchema, DecryptionSchema,
    EncryptedBallotSchema, EnvelopeSchema, EnvelopesSchema, KeyShareSchema, MyCredentialSchema, TrackerSchema, TrackerStatusSchema,
)
from api.voting.schemas import EncryptedPaperBallotSchema, EncryptedPaperCorrectionSchema
from engine.voting import ceremony
from api.voting.schemas import ComplaintAnswerSchema, DisqualificationSchema
from engine.voting.commands import AnswerComplaint, DisqualifyDealer
from engine.voting.commands import CastEncryptedPaperBallot, CorrectEncryptedPaperBallot
from engine.voting.commands import (
    AuditBallot, CorrectPaperBallot, EnterPaperBallot, PublishComplaint, PublishDealing, PublishDecryption,
    PublishEnvelopes, PublishKeyShare, RegisterCredential,
)
from engine.voting import queries as voting_queries
from engine.kernel.queries import paginate

blp = Blueprint("votes", __name__, url_prefix="/api", description="Votes, ballots, receipts and bulletin boards")


@blp.route("/instances/<instance_id>/votes")
@blp.response(200, VoteSchema(many=True))
def of_instance(instance_id: str) -> Any:
    """The votes a process instance has opened."""
    return voting_queries.votes_of(reader(), actor(), instance_id)


@blp.route("/votes")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(VoteSchema, "VotePage"))
def of_community(args: dict[str, Any]) -> Any:
    """The votes of my community: open ones first (soonest deadline first), then closed ones (latest first)."""
    session = reader()
    return paginate(session, voting_queries.votes_in_community(actor()), args["page"], args["page_size"])


@blp.route("/votes/<vote_id>")
@blp.response(200, VoteSchema)
def get(vote_id: str) -> Any:
    return voting_queries.get_vote(reader(), actor(), vote_id)


@blp.route("/votes/<vote_id>/electorate")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(ElectorateEntrySchema, "ElectoratePage"))
def electorate(args: dict[str, Any], vote_id: str) -> Any:
    """The electorate frozen when the vote opened, with weights."""
    session = reader()
    return paginate(session, voting_queries.electorate_of(session, actor(), vote_id), args["page"], args["page_size"])


@blp.route("/votes/<vote_id>/ballots", methods=["POST"])
@blp.arguments(IdempotencyHeader(), location="headers")
@blp.arguments(CastSchema())
@blp.response(201, ReceiptSchema)
def cast(headers: dict[str, Any], args: dict[str, Any], vote_id: str) -> Any:
    """Cast your ballot, or change it until the close (in a secret vote, send your last receipt).

    Send an `Idempotency-Key` header (a UUID) to retry safely: the same key gets the same receipt.
    """
    return ballots.cast(engine(), bearer_token(request.headers.get("Authorization", "")) or "", vote_id, args | headers)


@blp.route("/votes/<vote_id>/ballots")
@blp.response(200, PublicBallotSchema(many=True))
def public_ballots(vote_id: str) -> Any:
    """Who voted what — in a public vote only."""
    session = reader()
    return voting_queries.public_ballots(session, voting_queries.get_vote(session, actor(), vote_id))


@blp.route("/votes/<vote_id>/me")
@blp.response(200, ParticipationSchema)
def me(vote_id: str) -> Any:
    """Whether I may vote, and whether (and how) I have."""
    session = reader()
    return voting_queries.my_participation(session, actor(), voting_queries.get_vote(session, actor(), vote_id))


@blp.route("/votes/<vote_id>/receipts/check", methods=["POST"])
@blp.arguments(ReceiptCheckSchema)
@blp.response(200, ReceiptCheckResultSchema)
def check_receipt(args: dict[str, Any], vote_id: str) -> Any:
    """Check that the ballot behind a receipt is counted as cast (posted, so receipts stay out of URLs)."""
    session = reader()
    return voting_queries.check_receipt(session, voting_queries.get_vote(session, actor(), vote_id), args["receipt"])


@blp.route("/votes/<vote_id>/paper-ballots", methods=["POST"])
@blp.arguments(PaperBallotSchema)
@blp.response(201, ReceiptSchema)
def enter_paper(args: dict[str, Any], vote_id: str) -> Any:
    """A committee teller enters a named voter's paper ballot; hand the receipt to the voter."""
    return engine().execute(EnterPaperBallot(vote_id, args["member_id"], args["choice"]), actor())


@blp.route("/votes/<vote_id>/paper-ballots/<int:member_id>", methods=["PUT"])
@blp.arguments(PaperCorrectionSchema)
@blp.response(200, ReceiptSchema)
def correct_paper(args: dict[str, Any], vote_id: str, member_id: int) -> Any:
    """A teller corrects a paper ballot (with its receipt); recorded with who corrected it."""
    return engine().execute(CorrectPaperBallot(vote_id, member_id, args["receipt"], args["choice"], args["reason"]), actor())


@blp.route("/votes/<vote_id>/paper-ballots")
@blp.response(200, PaperEntrySchema(many=True))
def paper_entries(vote_id: str) -> Any:
    """Tellers: every paper ballot entered or corrected, latest first, with the teller, the time and the voter."""
    return voting_queries.paper_entries(reader(), actor(), vote_id)


@blp.route("/votes/<vote_id>/paper-ballots/voters")
@blp.arguments(PaperVoterQuery, location="query")
@blp.response(200, PaperVoterSchema(many=True))
def paper_voters(args: dict[str, Any], vote_id: str) -> Any:
    """Tellers: find voters of the frozen electorate by name or household, with whether (and how) they have voted."""
    return voting_queries.paper_voters(reader(), actor(), vote_id, args["q"])


@blp.route("/votes/<vote_id>/turnout")
@blp.response(200, TurnoutSchema)
def turnout(vote_id: str) -> Any:
    """Live turnout: counts only, never a running tally."""
    session = reader()
    return voting_queries.turnout(session, voting_queries.get_vote(session, actor(), vote_id))


@blp.route("/votes/<vote_id>/result")
@blp.response(200)
@blp.alt_response(409, response="CONFLICT")
def result(vote_id: str) -> Any:
    """The published result, with the rule's explanation in words (after the close)."""
    return voting_queries.result(voting_queries.get_vote(reader(), actor(), vote_id))


@blp.route("/votes/<vote_id>/board")
@blp.response(200)
@blp.alt_response(409, response="CONFLICT")
def bulletin_board(vote_id: str) -> Any:
    """Every counted ballot (choice and receipt fingerprint, no identity), the Merkle root, and the result.

    Save it and run `yishi tally --verify board.json` to recount it yourself.
    """
    session = reader()
    return voting_queries.bulletin_board(session, voting_queries.get_vote(session, actor(), vote_id))



# ---- encrypted votes: the trustees' ceremony, credentials, encrypted ballots, the board ----------

@blp.route("/votes/<vote_id>/ceremony")
@blp.response(200, CeremonySchema)
@blp.alt_response(409, response="CONFLICT")
def ceremony_state(vote_id: str) -> Any:
    """An encrypted vote's trustees, state and everything they published (public data only), and the election."""
    return ceremony.ceremony_state(reader(), actor(), vote_id)


@blp.route("/votes/<vote_id>/ceremony/dealings", methods=["POST"])
@blp.arguments(DealingSchema)
@blp.response(201, CeremonySchema)
def publish_dealing(args: dict[str, Any], vote_id: str) -> Any:
    """A trustee publishes their commitments, with the proof of knowledge of the constant term."""
    return engine().execute(PublishDealing(vote_id, args["dealing"], args["envelope_key"]), actor())


@blp.route("/votes/<vote_id>/ceremony/envelopes", methods=["POST"])
@blp.arguments(EnvelopesSchema)
@blp.response(201, CeremonySchema)
def publish_envelopes(args: dict[str, Any], vote_id: str) -> Any:
    """A trustee sends each other trustee their share, encrypted on the trustee's device; the server relays."""
    return engine().execute(PublishEnvelopes(vote_id, args["envelopes"]), actor())


@blp.route("/votes/<vote_id>/ceremony/envelopes")
@blp.response(200, EnvelopeSchema(many=True))
@blp.alt_response(409, response="CONFLICT")
def my_envelopes(vote_id: str) -> Any:
    """A trustee: the envelopes the others addressed to you."""
    return ceremony.envelopes_for(reader(), actor(), vote_id)


@blp.route("/votes/<vote_id>/ceremony/complaints", methods=["POST"])
@blp.arguments(ComplaintSchema)
@blp.response(201, CeremonySchema)
def publish_complaint(args: dict[str, Any], vote_id: str) -> Any:
    """A trustee says a dealer's share does not check against its commitments."""
    return engine().execute(PublishComplaint(vote_id, args["dealer"]), actor())


@blp.route("/votes/<vote_id>/ceremony/answers", methods=["POST"])
@blp.arguments(ComplaintAnswerSchema)
@blp.response(201, CeremonySchema)
def answer_complaint(args: dict[str, Any], vote_id: str) -> Any:
    """A dealer answers a complaint by revealing the share in clear: dismissed if it checks against the dealer's
    commitments, else the dealer is disqualified and the key generation restarts without them."""
    return engine().execute(AnswerComplaint(vote_id, args["complainant"], args["share"]), actor())


@blp.route("/votes/<vote_id>/ceremony/disqualifications", methods=["POST"])
@blp.arguments(DisqualificationSchema)
@blp.response(201, CeremonySchema)
def disqualify_dealer(args: dict[str, Any], vote_id: str) -> Any:
    """Disqualify a dealer whose complaint went unanswered past its deadline (anyone in the community may ask)."""
    return engine().execute(DisqualifyDealer(vote_id, args["dealer"]), actor())


@blp.route("/votes/<vote_id>/ceremony/key-shares", methods=["POST"])
@blp.arguments(KeyShareSchema)
@blp.response(201, CeremonySchema)
def publish_key_share(args: dict[str, Any], vote_id: str) -> Any:
    """A trustee publishes their verification key with its proof; with all of them the election key is made."""
    return engine().execute(PublishKeyShare(vote_id, args["key_share"]), actor())


@blp.route("/votes/<vote_id>/ceremony/decryptions", methods=["POST"])
@blp.arguments(DecryptionSchema)
@blp.response(201, CeremonySchema)
def publish_decryption(args: dict[str, Any], vote_id: str) -> Any:
    """A trustee publishes their decryption factors with proofs; a factor that fails is refused, naming the trustee."""
    return engine().execute(PublishDecryption(vote_id, args["partial"]), actor())


@blp.route("/votes/<vote_id>/credentials", methods=["POST"])
@blp.arguments(CredentialSchema)
@blp.response(201, CredentialResultSchema)
def register_credential(args: dict[str, Any], vote_id: str) -> Any:
    """Register your credential's public key for this vote (its secret stays on your device).

    With `replace`, a voter who lost their voting key before voting registers a new one in its place (409 once a ballot
    was cast for them)."""
    return engine().execute(RegisterCredential(vote_id, args["credential"], args["replace"]), actor())


@blp.route("/votes/<vote_id>/credentials/mine")
@blp.response(200, MyCredentialSchema)
@blp.alt_response(409, response="CONFLICT")
def my_credential(vote_id: str) -> Any:
    """Your registered credential's public key (null before you register one): your device finds its secret by it."""
    return ceremony.my_credential(reader(), actor(), vote_id)


@blp.route("/votes/<vote_id>/encrypted-ballots", methods=["POST"])
@blp.arguments(EncryptedBallotSchema)
@blp.response(201, TrackerSchema)
def cast_encrypted(args: dict[str, Any], vote_id: str) -> Any:
    """Cast an encrypted ballot (its proofs are checked); your last ballot counts. The tracker is its hash."""
    return ballots.cast_encrypted(engine(), bearer_token(request.headers.get("Authorization", "")) or "", vote_id, args)


@blp.route("/votes/<vote_id>/audited-ballots", methods=["POST"])
@blp.arguments(AuditSchema)
@blp.response(201, AuditedSchema)
def audit_ballot(args: dict[str, Any], vote_id: str) -> Any:
    """Audit a ballot instead of casting it (Benaloh): send its tracker only; it is never cast afterwards.

    Open it on your device with the randomness you kept (`yishi tally --audit audit.json`), then encrypt again to cast.
    A tracker already cast is refused (409)."""
    return engine().execute(AuditBallot(vote_id, args["tracker"]), actor())


@blp.route("/votes/<vote_id>/trackers/<tracker>")
@blp.response(200, TrackerStatusSchema)
@blp.alt_response(409, response="CONFLICT")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def find_tracker(vote_id: str, tracker: str) -> Any:
    """Find a ballot tracker on an encrypted vote's board: counted, replaced, audited or not found (no identity)."""
    return ceremony.find_tracker(reader(), actor(), vote_id, tracker)


@blp.route("/votes/<vote_id>/encrypted-board")
@blp.response(200)
@blp.alt_response(409, response="CONFLICT")
def encrypted_board(vote_id: str) -> Any:
    """Every ciphertext, tracker and proof, the trustees' keys, the tally, the decryption factors and the result.

    Save it and run `yishi tally --verify board.json` to check every proof and recount it yourself.
    """
    session = reader()
    return ceremony.encrypted_board(session, voting_queries.get_vote(session, actor(), vote_id))


@blp.route("/votes/<vote_id>/encrypted-paper-ballots", methods=["POST"])
@blp.arguments(EncryptedPaperBallotSchema)
@blp.response(201, TrackerSchema)
def cast_encrypted_paper(args: dict[str, Any], vote_id: str) -> Any:
    """A committee teller casts a named voter's paper ballot in an encrypted vote, encrypted by the teller's client
    under a fresh credential; write the tracker on the voter's slip."""
    return engine().execute(CastEncryptedPaperBallot(vote_id, args["member_id"], args["credential"], args["ballot"]), actor())


@blp.route("/votes/<vote_id>/encrypted-paper-ballots/<int:member_id>", methods=["PUT"])
@blp.arguments(EncryptedPaperCorrectionSchema)
@blp.response(200, TrackerSchema)
def correct_encrypted_paper(args: dict[str, Any], vote_id: str, member_id: int) -> Any:
    """A teller replaces a voter's encrypted paper ballot (the tracker on their slip) by the corrected one, with the
    reason; the old ballot stays on the board marked replaced."""
    return engine().execute(CorrectEncryptedPaperBallot(vote_id, member_id, args["tracker"], args["credential"],
                                                        args["ballot"], args["reason"]), actor())
