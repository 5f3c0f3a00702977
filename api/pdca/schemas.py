"""Schemas of service-quality cycles (PDCA): series, cycles, records, measurements, ratings, requests, actions, reports."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import PageQuery, StrictSchema, bounded
from engine.pdca import records, validation

# ---- service-quality cycles (PDCA) ----------------------------------------------------------------

class ServiceSeriesSchema(Schema):
    id = fields.Integer()
    instance_id = fields.String()
    service = fields.String()
    description = fields.String()
    provider_id = fields.Integer()
    cycle_days = fields.Integer()
    rating_days = fields.Integer()
    answer_hours = fields.Integer()
    standard = fields.List(fields.Dict(), metadata={"description": "The standard the next cycle starts with."})
    status = fields.String(metadata={"description": "active or ended"})
    created_at = fields.DateTime()
    end_requested_at = fields.DateTime(allow_none=True)
    end_reason = fields.String(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)


class ServiceCycleSchema(Schema):
    id = fields.Integer()
    series_id = fields.Integer()
    number = fields.Integer()
    status = fields.String(metadata={"description": "doing (service period), rating, acting, closed"})
    standard = fields.List(fields.Dict(), metadata={"description": "The standard this cycle is held to."})
    decision_version = fields.Function(lambda c: c.decision.version,
                                       metadata={"description": "The version of the DMN table indicator_status pinned at the start."})
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    period_closed_at = fields.DateTime(allow_none=True)
    rating_deadline = fields.DateTime(allow_none=True)
    checked_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)


class IndicatorValueSchema(Schema):
    key = fields.String()
    name = fields.String()
    kind = fields.String()
    unit = fields.String()
    target = fields.Float()
    direction = fields.String()
    value = fields.Float(allow_none=True, metadata={"description": "null: no data (nothing to compute it from), not zero."})
    samples = fields.Integer()
    status = fields.String(allow_none=True, metadata={"description": "met, near, missed or no_data; null until the cycle is checked."})
    escalated = fields.Boolean()


class ServiceRecordSchema(Schema):
    id = fields.Integer()
    cycle_id = fields.Integer()
    served_at = fields.DateTime()
    subject = fields.String()
    resident_id = fields.Integer(allow_none=True)
    description = fields.String(allow_none=True)
    recorded_by = fields.Integer()
    recorded_at = fields.DateTime()


class MeasurementSchema(Schema):
    id = fields.Integer()
    cycle_id = fields.Integer()
    metric = fields.String()
    value = fields.Float()
    measured_at = fields.DateTime()
    subject = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    recorded_by = fields.Integer()
    recorded_at = fields.DateTime()


class UploadResultSchema(Schema):
    count = fields.Integer()
    ids = fields.List(fields.Integer())


class RecordRowsSchema(StrictSchema):
    records = fields.List(fields.Dict(), required=True, metadata={
        "description": "Rows of served_at (ISO 8601; without an offset, in the community's zone), subject, "
                       "resident_id (the resident served, who may then rate the cycle) and description."})


class MeasurementRowsSchema(StrictSchema):
    measurements = fields.List(fields.Dict(), required=True, metadata={
        "description": "Rows of metric (one the cycle's standard measures), value, measured_at, subject and note."})


class RatingSchema(Schema):
    id = fields.Integer()
    cycle_id = fields.Integer()
    resident_id = fields.Integer()
    score = fields.Integer()
    comment = fields.String(allow_none=True)
    rated_at = fields.DateTime()


class NewRatingSchema(StrictSchema):
    score = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    comment = fields.String(load_default=None, validate=validate.Length(max=validation.MAX_TEXT))


class ServiceRequestSchema(Schema):
    id = fields.Integer()
    cycle_id = fields.Integer()
    kind = fields.String()
    text = fields.String()
    filed_by = fields.Integer()
    filed_at = fields.DateTime()
    answer = fields.String(allow_none=True)
    answered_by = fields.Integer(allow_none=True)
    answered_at = fields.DateTime(allow_none=True)


class NewServiceRequestSchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(records.REQUEST_KINDS))
    text = fields.String(required=True, validate=validate.Length(min=1, max=validation.MAX_TEXT))


class RequestAnswerSchema(StrictSchema):
    answer = fields.String(required=True, validate=validate.Length(min=1, max=validation.MAX_TEXT))


class CorrectiveActionSchema(Schema):
    id = fields.Integer()
    cycle_id = fields.Integer()
    indicator = fields.String()
    description = fields.String()
    owner_id = fields.Integer()
    due_date = fields.Date()
    status = fields.String(metadata={"description": "assigned, done (reported), closed (verified)"})
    assigned_by = fields.Integer()
    assigned_at = fields.DateTime()
    report = fields.String(allow_none=True)
    reported_by = fields.Integer(allow_none=True)
    reported_at = fields.DateTime(allow_none=True)
    effective = fields.Boolean(allow_none=True)
    verification = fields.String(allow_none=True)
    verified_by = fields.Integer(allow_none=True)
    verified_at = fields.DateTime(allow_none=True)


class NewCorrectiveActionSchema(StrictSchema):
    indicator = fields.String(required=True, validate=validate.Length(min=1, max=64))
    description = fields.String(required=True, validate=validate.Length(min=1, max=validation.MAX_TEXT))
    owner_id = fields.Integer(required=True, strict=True, validate=bounded())
    due_date = fields.String(required=True, metadata={"description": "YYYY-MM-DD, today or later"})


class ActionReportSchema(StrictSchema):
    report = fields.String(required=True, validate=validate.Length(min=1, max=validation.MAX_TEXT))


class ActionVerificationSchema(StrictSchema):
    effective = fields.Boolean(required=True, truthy={True}, falsy={False})
    note = fields.String(required=True, validate=validate.Length(min=1, max=validation.MAX_TEXT))


class TightenStandardSchema(StrictSchema):
    targets = fields.Dict(keys=fields.String(), values=fields.Float(allow_nan=False), required=True,
                          metadata={"description": "Indicator key → its new target, stricter than (or equal to) the current one."})


class EndSeriesSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=validation.MAX_TEXT))


class ActionFilterSchema(PageQuery):
    open = fields.Boolean(load_default=False, metadata={"description": "Only actions not closed by a verification yet."})


class IndicatorTrendSchema(Schema):
    key = fields.String()
    name = fields.String()
    kind = fields.String()
    unit = fields.String()
    direction = fields.String()
    target = fields.Float(metadata={"description": "The current target."})
    cycles = fields.List(fields.Dict(), metadata={"description": "Per cycle: cycle, cycle_status, target, value, samples, status, escalated."})
    met = fields.Integer()
    missed = fields.Integer()
    trend = fields.String(metadata={"description": "improving, stable, worsening or insufficient_data"})


class SeriesReportSchema(Schema):
    series_id = fields.Integer()
    service = fields.String()
    status = fields.String()
    cycles = fields.Integer()
    indicators = fields.List(fields.Nested(IndicatorTrendSchema))
    open_corrective_actions = fields.List(fields.Dict())
    requests = fields.Dict(metadata={"description": "answered_in_time, late, pending, share_answered_in_time (%, null: no data)"})
