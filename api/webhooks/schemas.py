"""Schemas of webhooks and their deliveries."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import PageQuery, StrictSchema
from engine.webhooks.events import EVENT_TYPES
from engine.webhooks.queries import DELIVERY_STATUSES
from engine.webhooks.urls import MAX_URL_LENGTH

URL_DESCRIPTION = ("The endpoint deliveries are POSTed to: https:// to a public address (no credentials, no fragment); "
                   "localhost, private, loopback and link-local addresses are refused (see docs/webhooks.md).")
TYPES_DESCRIPTION = f"Event types to hear, each one of: {', '.join(sorted(EVENT_TYPES))}."


class NewWebhookSchema(StrictSchema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=MAX_URL_LENGTH),
                        metadata={"description": URL_DESCRIPTION})
    event_types = fields.List(fields.String(validate=validate.Length(min=1, max=50)), required=True,
                              validate=validate.Length(min=1, max=len(EVENT_TYPES)),
                              metadata={"description": TYPES_DESCRIPTION})
    description = fields.String(load_default="", validate=validate.Length(max=200),
                                metadata={"description": "For the admins: who listens there, and why."})


class WebhookChangeSchema(StrictSchema):
    url = fields.String(validate=validate.Length(min=1, max=MAX_URL_LENGTH), metadata={"description": URL_DESCRIPTION})
    event_types = fields.List(fields.String(validate=validate.Length(min=1, max=50)),
                              validate=validate.Length(min=1, max=len(EVENT_TYPES)),
                              metadata={"description": TYPES_DESCRIPTION})
    description = fields.String(validate=validate.Length(max=200))
    active = fields.Boolean(metadata={"description": "false disables it (no deliveries are written; those written "
                                                     "wait), true enables it again."})


class WebhookSchema(Schema):
    id = fields.Integer()
    url = fields.String()
    event_types = fields.List(fields.String())
    description = fields.String()
    status = fields.String(metadata={"description": "active, disabled or deleted."})
    created_by = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    secret_rotated_at = fields.DateTime(allow_none=True)


class WebhookWithSecretSchema(WebhookSchema):
    secret = fields.String(metadata={"description": "The signing secret, shown this once: keep it with the receiver. "
                                                    "Rotate it (POST …/secret) if it is lost or leaked."})


class EventTypesSchema(Schema):
    event_types = fields.List(fields.String())


class DeliveryQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES), metadata={"description": "Only these."})


class AttemptSchema(Schema):
    number = fields.Integer()
    at = fields.DateTime()
    status_code = fields.Integer(allow_none=True, metadata={"description": "The answer's HTTP status; null: none came."})
    error = fields.String(allow_none=True)
    duration_ms = fields.Integer()


class DeliverySchema(Schema):
    id = fields.String(metadata={"description": "The delivery id, sent as Yishi-Delivery at every attempt."})
    event_type = fields.String()
    instance_id = fields.String()
    seq = fields.Integer()
    status = fields.String(metadata={"description": "pending, delivered, failed (every attempt failed) or cancelled "
                                                    "(the webhook was deleted)."})
    attempts = fields.Integer()
    next_attempt_at = fields.Method("next_attempt", allow_none=True, metadata={"type": "string", "format": "date-time",
                                    "nullable": True, "description": "When it is tried next (pending only)."})
    last_attempt_at = fields.DateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    last_duration_ms = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    delivered_at = fields.DateTime(allow_none=True)

    def next_attempt(self, delivery: object) -> str | None:
        if getattr(delivery, "status", None) != "pending":
            return None
        return fields.DateTime().serialize("next_attempt_at", delivery)


class DeliveryWithAttemptsSchema(DeliverySchema):
    body = fields.String(metadata={"description": "The JSON body every attempt posts."})
    attempt_log = fields.List(fields.Nested(AttemptSchema), data_key="attempt_log")
