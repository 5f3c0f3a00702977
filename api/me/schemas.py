"""Schemas of the caller's agenda and notifications."""

from __future__ import annotations

from marshmallow import Schema, fields

from api.schemas import StrictSchema


class AgendaItemSchema(Schema):
    kind = fields.String(metadata={"description": "give_opinion, cast_ballot, propose_amendment, rate_service, "
                                                  "answer_request or complete_task."})
    title = fields.String()
    deadline = fields.DateTime(allow_none=True)
    instance_id = fields.String()
    refs = fields.Dict(keys=fields.String(), metadata={"description": "The ids to act on (vote_id, cycle_id, task_id, …)."})


class AgendaSchema(Schema):
    at = fields.DateTime(metadata={"description": "The moment the agenda was read."})
    items = fields.List(fields.Nested(AgendaItemSchema), metadata={"description": "Soonest deadline first, none last."})


class NotificationSchema(Schema):
    key = fields.String(metadata={"description": "A stable name of the notification (its kind and ids)."})
    kind = fields.String(metadata={"description": "opinion_period_opened, opinion_answered, vote_opened, vote_closed, "
                                                  "rating_opened, request_answered, amendment_period_opened or amendment_decided."})
    title = fields.String()
    summary = fields.String()
    at = fields.DateTime()
    instance_id = fields.String()
    refs = fields.Dict(keys=fields.String())
    unread = fields.Boolean()


class NotificationPageSchema(Schema):
    items = fields.List(fields.Nested(NotificationSchema), metadata={"description": "Newest first."})
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    unread = fields.Integer(metadata={"description": "How many of all the caller's notifications are unread."})
    read_until = fields.DateTime(allow_none=True, metadata={"description": "Everything up to this moment is read."})


class UnreadSchema(Schema):
    unread = fields.Integer()
    read_until = fields.DateTime(allow_none=True)


class MarkReadSchema(StrictSchema):
    until = fields.AwareDateTime(load_default=None, allow_none=True, metadata={
        "description": "Mark read everything up to this moment (with its zone); left out: up to now."})
