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
