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
