"""Request and response schemas (marshmallow), which flask-smorest also turns into the OpenAPI spec."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from engine.consultation import MAX_OPINION_LENGTH, MAX_REASON_LENGTH, VERDICTS
from engine.identity import ROLES
from engine.queries import MAX_PAGE_SIZE


class StrictSchema(Schema):
    """Input schemas refuse unknown fields, so a typo is an error rather than silently ignored."""

    class Meta:
        ordered = True


class PageQuery(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class PageMeta(Schema):
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """A response schema ``{"items": [...], "total", "page", "page_size"}`` for one item schema."""
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item)), "total": fields.Integer(), "page": fields.Integer(), "page_size": fields.Integer()},
        name=name,
    )


class CommunitySchema(Schema):
    id = fields.Integer()
    slug = fields.String()
    name = fields.String()
    timezone = fields.String()
    created_at = fields.DateTime()


class MemberSchema(Schema):
    id = fields.Integer()
    community_id = fields.Integer()
    name = fields.String()
    roles = fields.List(fields.String())
    household = fields.String(allow_none=True)
    area = fields.String(allow_none=True, metadata={"description": "Floor area in m² (owners), a decimal string."})
    created_at = fields.DateTime()


class NewMemberSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True, validate=validate.Length(min=1))
    household = fields.String(load_default=None, validate=validate.Length(min=1, max=100),
                              metadata={"description": "The register's household (a flat), for one ballot per household."})
    area = fields.String(load_default=None, validate=validate.Regexp(r"^\d{1,9}(\.\d{1,4})?$"),
                         metadata={"description": "An owner's floor area in m², e.g. \"86.35\"."})


class NewTokenSchema(StrictSchema):
    label = fields.String(load_default="", validate=validate.Length(max=100))


class TokenSchema(Schema):
    member_id = fields.Integer()
    token = fields.String(metadata={"description": "Shown once; only its hash is stored."})


class MemberWithTokenSchema(MemberSchema):
    token = fields.String(metadata={"description": "Shown once; only its hash is stored."})


class DefinitionSchema(Schema):
    id = fields.Integer()
    key = fields.String()
    version = fields.Integer()
    name = fields.String()
    filename = fields.String()
    sha256 = fields.String()
    deployed_at = fields.DateTime()


class DefinitionDetailSchema(DefinitionSchema):
    source = fields.String(metadata={"description": "The BPMN XML as deployed."})


class DeploySchema(StrictSchema):
    filename = fields.String(required=True, validate=validate.Length(min=1, max=255))
    source = fields.String(required=True, validate=validate.Length(min=1), metadata={"description": "BPMN 2.0 XML"})


class DeploymentSchema(Schema):
    created = fields.Boolean(metadata={"description": "False when identical content was already the newest version."})
    definition = fields.Nested(DefinitionSchema)


class TaskSchema(Schema):
    id = fields.String()
    instance_id = fields.String()
    element_id = fields.String()
    name = fields.String()
    lane = fields.String(allow_none=True)
    state = fields.String()
    form = fields.String(allow_none=True)
    instructions = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    properties = fields.Dict(keys=fields.String(), values=fields.String())


class TaskDetailSchema(TaskSchema):
    form_schema = fields.Dict(allow_none=True, metadata={"description": "The JSON Schema the completion data must satisfy."})


class CompleteTaskSchema(StrictSchema):
    data = fields.Dict(keys=fields.String(), load_default=dict)


class TimerSchema(Schema):
    element_id = fields.String()
    name = fields.String()
    due_at = fields.DateTime()


class InstanceSchema(Schema):
    id = fields.String()
    community_id = fields.Integer()
    definition_key = fields.Function(lambda i: i.definition.key)
    definition_version = fields.Function(lambda i: i.definition.version)
    status = fields.String()
    started_by = fields.Integer(allow_none=True)
    started_at = fields.DateTime()
    updated_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    last_seq = fields.Integer()
    state_digest = fields.String()


class InstanceDetailSchema(InstanceSchema):
    data = fields.Dict()
    error = fields.Dict(allow_none=True)
    open_tasks = fields.Function(
        lambda i: TaskSchema(many=True).dump([t for t in i.tasks if t.state in ("READY", "ERROR")])
    )
    timers = fields.List(fields.Nested(TimerSchema))


class StartInstanceSchema(StrictSchema):
    definition_key = fields.String(required=True, validate=validate.Length(min=1, max=200))
    variables = fields.Dict(keys=fields.String(), load_default=dict)


class InstanceFilterSchema(PageQuery):
    status = fields.String(validate=validate.OneOf(["running", "completed", "error"]))
    definition_key = fields.String()


class TaskFilterSchema(PageQuery):
    instance_id = fields.String()


class RetrySchema(StrictSchema):
    data = fields.Dict(keys=fields.String(), load_default=dict,
                       metadata={"description": "Corrections merged into the failed task's data before running again."})


class MessageSchema(StrictSchema):
    message = fields.String(required=True, validate=validate.Length(min=1, max=200))
    payload = fields.Dict(keys=fields.String(), load_default=dict)


class EventSchema(Schema):
    seq = fields.Integer()
    type = fields.String()
    actor_id = fields.Integer(allow_none=True)
    at = fields.DateTime()
    input = fields.Dict()
    state_digest = fields.String()
    error = fields.Dict(allow_none=True)
    redacted = fields.Boolean(metadata={"description": "True when inputs private to another resident are left out."})


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


class HealthSchema(Schema):
    status = fields.String()
    database = fields.String()


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
    found = fields.Boolean()
    choice = fields.Raw(allow_none=True)
    on_board = fields.Boolean()


class PaperBallotSchema(StrictSchema):
    member_id = fields.Integer(required=True)
    choice = fields.Raw(required=True)


class PaperCorrectionSchema(StrictSchema):
    receipt = fields.String(required=True, validate=validate.Length(min=8, max=100))
    choice = fields.Raw(required=True)


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
