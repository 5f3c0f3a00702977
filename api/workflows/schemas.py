"""Schemas of definitions, adoptions, instances, tasks, timers and history events."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from api.schemas import PageQuery, StrictSchema, bounded


def owner_word(definition: Any) -> str:
    """Whose a definition version is, as the API says it: the platform's, or the caller's community's."""
    return "platform" if definition.community_id is None else "community"


class DefinitionSchema(Schema):
    id = fields.Integer()
    key = fields.String()
    version = fields.Integer()
    kind = fields.String(metadata={"description": "bpmn (a process) or dmn (a decision table)."})
    name = fields.String()
    filename = fields.String()
    sha256 = fields.String()
    owner = fields.Function(owner_word, metadata={
        "description": "platform (bundled, or deployed by the platform operator) or community (your community's own)."})
    deployed_at = fields.DateTime()
    deployed_by = fields.Integer(allow_none=True, metadata={"description": "The member who deployed it; null for the platform's."})
    deployed_by_name = fields.Function(lambda d: d.deployer.name if d.deployer else None, allow_none=True)


class AdoptionSchema(Schema):
    number = fields.Integer(metadata={"description": "1 for the community's first choice for this key, then 2, 3…"})
    key = fields.String()
    kind = fields.String()
    version = fields.Function(lambda a: a.definition.version)
    owner = fields.Function(lambda a: owner_word(a.definition))
    definition_id = fields.Integer()
    adopted_at = fields.DateTime()
    adopted_by = fields.Integer(allow_none=True, metadata={
        "description": "The admin who chose it; null: pinned when the community first ran the key."})


class AdoptSchema(StrictSchema):
    version = fields.Integer(required=True, validate=bounded(),
                             metadata={"description": "The platform's version to run from now on."})


class DefinitionDetailSchema(DefinitionSchema):
    source = fields.String(metadata={"description": "The BPMN or DMN XML as deployed."})


class DeploySchema(StrictSchema):
    filename = fields.String(required=True, validate=validate.Length(min=1, max=255))
    source = fields.String(required=True, validate=validate.Length(min=1),
                           metadata={"description": "BPMN 2.0 XML (a .bpmn file) or DMN 1.3 XML (a .dmn file)"})


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
    definition_owner = fields.Function(lambda i: owner_word(i.definition),
                                       metadata={"description": "Whose version it runs: the platform's or the community's own."})
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
    disposition = fields.String(metadata={"description": "success, or failure when the command left the instance in error."})
    records = fields.List(fields.Dict(), metadata={"description": "Fingerprints of the records the command wrote (kind, id, fingerprint)."})
    prev_hash = fields.String(metadata={"description": "The previous event's hash (zeros for the first)."})
    hash = fields.String(metadata={"description": "This event's hash, over its content and prev_hash; see docs/audit.md."})
