"""Schemas of votes, ballots, receipts, paper ballots, turnout and bulletin boards."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import StrictSchema, bounded


class VoteOptionSchema(Schema):
    id = fields.String()
    label = fields.String()


class VoteSchema(Schema):
    id = fields.String()
    instance_id = fields.String()
    title = fields.String()
    question = fields.String()
    method = fields.String()
    options = fields.List(fields.Nested(VoteOptionSchema))
    rule = fields.Dict()
    secret = fields.Boolean()
    electorate = fields.String(attribute="basis")
    weighted = fields.Boolean()
    close_when_all_voted = fields.Boolean()
    deadline = fields.DateTime()
    status = fields.String()
    eligible = fields.Integer(attribute="eligible_heads")
    eligible_weight = fields.String()
    opened_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    board_root = fields.String(allow_none=True)
    secrecy = fields.Function(lambda vote: vote.secrecy or ("server" if vote.secret else "public"), metadata={
        "description": "encrypted (the server cannot read ballots), server (secret from the API, readable by whoever "
                       "runs the database) or public."})


class ElectorateEntrySchema(Schema):
    voter_key = fields.String()
    label = fields.String()
    weight = fields.String()


class CastSchema(StrictSchema):
    choice = fields.Raw(required=True, metadata={"description": "yes/no/abstain; an option id; a list of option ids (approval, ranked)."})
    receipt = fields.String(load_default=None, validate=validate.Length(min=8, max=100),
                            metadata={"description": "To change your ballot in a secret vote: the receipt of your last ballot."})


class IdempotencyHeader(StrictSchema):
    class Meta:
        unknown = "exclude"

    idempotency_key = fields.String(data_key="Idempotency-Key", load_default=None, validate=validate.Length(min=16, max=200))


class ReceiptSchema(Schema):
    vote_id = fields.String()
    receipt = fields.String(metadata={"description": "Keep it: it is shown once, and proves your ballot was counted as cast."})
    fingerprint = fields.String(metadata={"description": "What the bulletin board lists for this ballot after the close."})
    changed = fields.Boolean()


class ReceiptCheckSchema(StrictSchema):
    receipt = fields.String(required=True, validate=validate.Length(min=8, max=100))


class ReceiptCheckResultSchema(Schema):
    fingerprint = fields.String()
    found = fields.Boolean(metadata={"description": "The receipt was given for a ballot of this vote (current or replaced)."})
    current = fields.Boolean(metadata={"description": "It is still the voter's current ballot: no later ballot replaced it."})
    replaced = fields.Boolean(metadata={"description": "A later ballot of the same voter replaced it; it no longer counts."})
    choice = fields.Raw(allow_none=True, metadata={
        "description": "After the close only (as the bulletin board shows it): before, a receipt reveals nothing of the choice."})
    on_board = fields.Boolean()


class PaperBallotSchema(StrictSchema):
    member_id = fields.Integer(required=True, validate=bounded())
    choice = fields.Raw(required=True)


class PaperCorrectionSchema(StrictSchema):
    receipt = fields.String(required=True, validate=validate.Length(min=8, max=100))
    choice = fields.Raw(required=True)
    reason = fields.String(load_default=None, validate=validate.Length(min=1, max=500),
                           metadata={"description": "Why the ballot is corrected: recorded in the history with the teller."})


class PaperVoterQuery(StrictSchema):
    q = fields.String(load_default="", validate=validate.Length(max=200),
                      metadata={"description": "Part of the voter's name, household or electorate label; empty: everyone."})


class PaperVoterSchema(Schema):
    member_id = fields.Integer()
    name = fields.String()
    household = fields.String(allow_none=True)
    voter_key = fields.String()
    label = fields.String()
    weight = fields.String()
    voted = fields.Boolean()
    channel = fields.String(allow_none=True, metadata={"description": "online or paper, once voted."})
    cast_at = fields.DateTime(allow_none=True)


class PaperEntrySchema(Schema):
    seq = fields.Integer()
    type = fields.String(metadata={"description": "paper_ballot_entered or paper_ballot_corrected"})
    at = fields.DateTime()
    teller_id = fields.Integer(allow_none=True)
    teller = fields.String(allow_none=True)
    voter_id = fields.Integer(allow_none=True)
    voter = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class TurnoutSchema(Schema):
    vote_id = fields.String()
    status = fields.String()
    eligible = fields.Integer()
    cast = fields.Integer()
    by_channel = fields.Dict(keys=fields.String(), values=fields.Integer())
    eligible_weight = fields.String(allow_none=True)
    cast_weight = fields.String(allow_none=True)


class ParticipationSchema(Schema):
    eligible = fields.Boolean()
    voted = fields.Boolean()
    channel = fields.String()
    cast_at = fields.DateTime()
    changes = fields.Integer()


class PublicBallotSchema(Schema):
    voter = fields.String()
    voter_key = fields.String()
    choice = fields.Raw()


# ---- encrypted votes (docs/ballot-encryption.md) ---------------------------------------------

HEX = validate.Regexp(r"^[0-9a-f]{64}$")


class DealingSchema(StrictSchema):
    dealing = fields.Dict(required=True, metadata={"description": "{dealer, commitments: [hex], proof: {c, s}}"})
    envelope_key = fields.String(required=True, validate=HEX,
                                 metadata={"description": "The point others encrypt their shares for you to (hex)."})


class EnvelopesSchema(StrictSchema):
    envelopes = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[1-9][0-9]{0,2}$")),
                            values=fields.String(validate=validate.Length(min=1, max=4000)), required=True,
                            metadata={"description": "For each other trustee's number, your share encrypted to them (opaque to the server)."})


class ComplaintSchema(StrictSchema):
    dealer = fields.Integer(required=True, validate=validate.Range(min=1, max=1000))


class ComplaintAnswerSchema(StrictSchema):
    complainant = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=1000),
                                 metadata={"description": "The trustee who complained about your share."})
    share = fields.String(required=True, validate=HEX,
                          metadata={"description": "The share you dealt them, in clear (a scalar, hex): anyone checks it."})


class DisqualificationSchema(StrictSchema):
    dealer = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=1000),
                            metadata={"description": "The dealer whose complaint went unanswered past its deadline."})


class KeyShareSchema(StrictSchema):
    key_share = fields.Dict(required=True, metadata={"description": "{trustee, key, proof: {c, s}}"})


class CredentialSchema(StrictSchema):
    credential = fields.String(required=True, validate=HEX, metadata={"description": "Your credential's public key C (hex)."})
    replace = fields.Boolean(load_default=False, metadata={
        "description": "You lost your voting key before voting: this credential replaces your registered one. Refused "
                       "(409) once a ballot was cast for you, online or on paper (`replaceable` in credentials/mine)."})


class CredentialResultSchema(Schema):
    vote_id = fields.String()
    credential = fields.String()
    weight = fields.String()


class EncryptedBallotSchema(StrictSchema):
    ballot = fields.Dict(required=True, metadata={"description": "A yishi-ballot/1 ballot (docs/ballot-encryption.md §6)."})


class TrackerSchema(Schema):
    vote_id = fields.String()
    tracker = fields.String(metadata={"description": "SHA-256 of the ballot: find it on the board after the close."})
    changed = fields.Boolean()


class AuditSchema(StrictSchema):
    tracker = fields.String(required=True, validate=HEX, metadata={
        "description": "The tracker of the ballot you audit instead of casting (64 lowercase hex). Only the tracker: "
                       "the randomness that opens the ballot stays on your device."})


class AuditedSchema(Schema):
    vote_id = fields.String()
    tracker = fields.String(metadata={"description": "Listed as audited on the board: never cast, never counted."})


class MyCredentialSchema(Schema):
    vote_id = fields.String()
    credential = fields.String(allow_none=True, metadata={"description": "Your registered credential's public key, or null."})
    weight = fields.String()
    replaceable = fields.Boolean(metadata={
        "description": "Whether a lost voting key may still be replaced (POST credentials with replace): a credential "
                       "is registered and no ballot was cast for you, online or on paper."})


class TrackerStatusSchema(Schema):
    vote_id = fields.String()
    tracker = fields.String()
    status = fields.String(metadata={
        "description": "counted (the last ballot of its credential), replaced (by a later one), audited (opened by its "
                       "voter: never counted) or not_found"})
    decided = fields.Boolean(metadata={"description": "The result is out: counted is final."})


class DecryptionSchema(StrictSchema):
    partial = fields.Dict(required=True, metadata={"description": "{trustee, factors: [hex], proofs: [{c, s}]}"})


class TrusteeSchema(Schema):
    number = fields.Integer()
    member_id = fields.Integer()


class PostRefSchema(Schema):
    dealer = fields.Integer()
    recipient = fields.Integer()


class ComplaintRefSchema(Schema):
    trustee = fields.Integer()
    dealer = fields.Integer()
    filed_at = fields.String()
    deadline = fields.String(metadata={"description": "From then on, unanswered, anyone may have the dealer disqualified"})
    answer = fields.String(allow_none=True, metadata={"description": "The share the dealer revealed (it checks), or null"})


class CeremonyFailureSchema(Schema):
    reason = fields.String()
    qualified = fields.List(fields.Integer())
    threshold = fields.Integer()


class DisqualificationRefSchema(Schema):
    round = fields.Integer()
    dealer = fields.Integer()
    complainant = fields.Integer()
    filed_at = fields.String()
    reason = fields.String(metadata={"description": "bad_answer (the revealed share does not check) or no_answer"})
    dealing = fields.Dict(metadata={"description": "The dealer's commitments in that round"})
    answer = fields.String(allow_none=True)


class CeremonySchema(Schema):
    vote_id = fields.String()
    state = fields.String(metadata={"description": "keying, open, decrypting, decided, or failed"})
    threshold = fields.Integer()
    trustees = fields.List(fields.Nested(TrusteeSchema))
    dealings = fields.List(fields.Dict())
    envelopes = fields.List(fields.Nested(PostRefSchema))
    complaints = fields.List(fields.Nested(ComplaintRefSchema))
    round = fields.Integer(metadata={"description": "The key generation's round: one more after each disqualification"})
    disqualified = fields.List(fields.Integer(), metadata={"description": "Trustee numbers disqualified as dealers"})
    answer_hours = fields.Integer(metadata={"description": "How long a dealer has to answer a complaint"})
    failure = fields.Nested(CeremonyFailureSchema, allow_none=True, metadata={
        "description": "When state is failed: fewer qualified trustees than the threshold; the vote cannot open"})
    disqualifications = fields.List(fields.Nested(DisqualificationRefSchema), metadata={
        "description": "The evidence of each disqualification, from the earlier rounds' posts"})
    key_shares = fields.List(fields.Dict())
    decryptions = fields.List(fields.Dict())
    election = fields.Dict(allow_none=True)
    fingerprint = fields.String(allow_none=True)
    tally = fields.Dict(allow_none=True, metadata={
        "description": "From the close: the homomorphic sums the trustees decrypt (ciphertexts, bounds), then counts"})
    you = fields.Integer(allow_none=True, metadata={"description": "Your trustee number, or null"})


class EnvelopeSchema(Schema):
    dealer = fields.Integer()
    envelope = fields.String()


class EncryptedPaperBallotSchema(StrictSchema):
    member_id = fields.Integer(required=True, validate=bounded(), metadata={"description": "The paper voter (as for paper-ballots)."})
    credential = fields.String(required=True, validate=HEX, metadata={
        "description": "The fresh credential's public key C your client made for this paper ballot (hex); forget its secret once cast."})
    ballot = fields.Dict(required=True, metadata={"description": "The paper choice as a yishi-ballot/1 ballot under that credential."})


class EncryptedPaperCorrectionSchema(EncryptedPaperBallotSchema):
    class Meta:
        exclude = ("member_id",)

    tracker = fields.String(required=True, validate=HEX, metadata={
        "description": "The tracker on the voter's paper slip: their latest ballot, replaced by this one."})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500),
                           metadata={"description": "Why the ballot is corrected: recorded in the history with the teller."})
