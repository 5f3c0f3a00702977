"""Schemas of the demo clock."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import StrictSchema


class DemoClockSchema(Schema):
    demo = fields.Boolean(metadata={"description": "Whether this deployment runs in demo mode (only then may the clock move)."})
    now = fields.DateTime(metadata={"description": "The engine's time: system time plus the offset."})
    offset_seconds = fields.Integer()
    offset = fields.String(metadata={"description": "The offset as an ISO 8601 duration (PT0S when none)."})


class AdvanceDemoClockSchema(StrictSchema):
    advance = fields.String(required=True, validate=validate.Length(min=2, max=40), metadata={
        "description": "An ISO 8601 duration of weeks, days, hours, minutes, seconds (P1D, PT2H); at most P400D."})


class DemoClockAdvancedSchema(DemoClockSchema):
    advanced_seconds = fields.Integer()
    from_at = fields.DateTime(data_key="from")
    to_at = fields.DateTime(data_key="to")
    fired = fields.Integer(metadata={"description": "How many instances' due timers fired at the advanced time."})
