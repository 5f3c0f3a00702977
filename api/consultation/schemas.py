"""Schemas of opinions and their answers."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import StrictSchema
from engine.consultation.opinions import MAX_OPINION_LENGTH, MAX_REASON_LENGTH, VERDICTS


class OpinionSchema(Schema):
    id = fields.Integer()
    instance_id = fields.String()
    author_id = fields.Integer()
    text = fields.String()
    status = fields.String()
    revision = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    answer = fields.Function(
        lambda o: None if o.answer_verdict is None else {
            "verdict": o.answer_verdict, "reason": o.answer_reason,
            "answered_by": o.answered_by, "answered_at": o.answered_at.isoformat(),
        }
    )


class OpinionTextSchema(StrictSchema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=MAX_OPINION_LENGTH))


class AnswerSchema(StrictSchema):
    verdict = fields.String(required=True, validate=validate.OneOf(VERDICTS))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=MAX_REASON_LENGTH))
