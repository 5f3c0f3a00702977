"""Schemas of the audit endpoints (marshmallow, and through flask-smorest the OpenAPI spec).

The bundle itself is described loosely: its exact shape is a JSON Schema the verifier owns
(``engine.audit.offline.bundle_schema``), which names every field at fault in a malformed one.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from api.schemas import StrictSchema


class BundleQuery(StrictSchema):
    instance = fields.String(load_default=None, metadata={"description": "One instance's bundle; the whole community's without it."})
    public = fields.Boolean(load_default=False, metadata={
        "description": "A public bundle: digests in place of personal data and salts (any member); "
                       "a full one carries them (auditors and admins)."})


class AuditBundleSchema(Schema):
    """An audit bundle as `GET /api/audit/bundle` gives it (format `yishi-audit-bundle/1`); see docs/audit.md."""

    class Meta:
        unknown = INCLUDE

    verified_in_memory = True
    """A bundle is verified in memory, never stored; it holds whatever the exporting database held."""

    format = fields.String(required=True, metadata={"example": "yishi-audit-bundle/1"})
    scope = fields.Dict(metadata={"description": "{community, instance}: what the bundle covers."})
    public = fields.Boolean()
    exported_at = fields.String()
    definitions = fields.List(fields.Raw(), metadata={"description": "The definition sources (and, in a full bundle, parsed specs)."})
    instances = fields.List(fields.Raw(), metadata={"description": "Each instance with its whole hash-chained history."})
    records = fields.List(fields.Raw(), metadata={"description": "The records the histories bound."})
    boards = fields.List(fields.Raw(), metadata={"description": "Bulletin boards of closed votes."})
    checkpoints = fields.List(fields.Raw(), metadata={"description": "Signed checkpoints with the proofs of this bundle's heads."})
    public_keys = fields.Dict(keys=fields.String(), values=fields.String())


class VerifyBundleQuery(StrictSchema):
    replay = fields.Boolean(load_default=True, metadata={
        "description": "Re-apply every command of a full bundle (the slowest check; a public bundle cannot be replayed)."})


class VerifyStoredSchema(StrictSchema):
    instance = fields.String(load_default=None, metadata={"description": "One instance; the whole community without it."})


class ProblemSchema(Schema):
    check = fields.String(metadata={"description": "definitions, chain, replay, records, recount, checkpoints or bundle."})
    message = fields.String()
    instance = fields.String(allow_none=True)
    seq = fields.Integer(allow_none=True)
    record = fields.String(allow_none=True)


class VerdictSchema(Schema):
    ok = fields.Boolean()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "What was checked, by kind."})
    first_problem = fields.Nested(ProblemSchema, allow_none=True)
    problems = fields.List(fields.Nested(ProblemSchema))
    key_ids = fields.List(fields.String(), metadata={
        "description": "The keys the checkpoints were signed with; compare with GET /api/audit/public-key."})
    notes = fields.List(fields.String(), metadata={
        "description": "What is worth knowing and no failure: an encrypted vote whose trustees are still decrypting."})


class MismatchSchema(Schema):
    seq = fields.Integer()
    type = fields.String()
    recorded = fields.String(metadata={"description": "The state digest recorded with the event."})
    replayed = fields.String(metadata={"description": "The digest replay gives (empty when the event could not be applied)."})
    error = fields.String(allow_none=True)


class ReplaySchema(Schema):
    instance_id = fields.String()
    events = fields.Integer()
    ok = fields.Boolean()
    final_state_matches = fields.Boolean()
    mismatches = fields.List(fields.Nested(MismatchSchema))


class SnapshotTaskSchema(Schema):
    id = fields.String()
    element_id = fields.String()
    name = fields.String(allow_none=True)
    lane = fields.String(allow_none=True)
    state = fields.String()
    error = fields.Raw(allow_none=True)


class SnapshotTimerSchema(Schema):
    task_id = fields.String()
    element_id = fields.String()
    name = fields.String(allow_none=True)
    due_at = fields.String()


class SnapshotSchema(Schema):
    seq = fields.Integer()
    at = fields.String()
    event_type = fields.String()
    status = fields.String()
    open_tasks = fields.List(fields.Nested(SnapshotTaskSchema))
    data = fields.Dict()
    pending_timers = fields.List(fields.Nested(SnapshotTimerSchema))
    completed_elements = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "BPMN element → times completed."})
    flows_taken = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "Sequence flow → times taken."})
    digest = fields.String()
    digest_matches = fields.Boolean(metadata={"description": "The replayed state equals the one recorded with event seq."})
    history_matches = fields.Boolean(metadata={"description": "Every event up to seq replayed to its recorded digest."})


class HeadProofSchema(Schema):
    head = fields.List(fields.Raw(), metadata={"description": "[community, instance, seq, head hash]"})
    index = fields.Integer(metadata={"description": "The head's position: among every community's heads (format 1), "
                                                    "among your community's (format 2)."})
    path = fields.List(fields.String(), metadata={"description": "Sibling hashes from the leaf to the root (RFC 9162): the signed "
                                                               "root (format 1), your community's root (format 2)."})


class CommunityProofSchema(Schema):
    id = fields.Integer(metadata={"description": "Your community: the leaf's position in the community tree."})
    size = fields.Integer(metadata={"description": "How many chain heads your community had."})
    root = fields.String(metadata={"description": "The root of your community's heads."})
    nonce = fields.String(metadata={"description": "Your community leaf's nonce, new in every checkpoint."})
    path = fields.List(fields.String(), metadata={
        "description": "32 sibling hashes from the leaf [\"community\", id, size, root, nonce] to the signed root, nearest first; "
                       "the position's bits say left or right."})


class CheckpointSchema(Schema):
    format = fields.String(metadata={"description": "yishi-checkpoint/1 or yishi-checkpoint/2: what the signature covers; see docs/audit.md."})
    id = fields.Integer()
    at = fields.String()
    reason = fields.String()
    size = fields.Integer(metadata={"description": "Format 1 only: how many chain heads (of every community) its root covers."})
    root = fields.String()
    previous = fields.String(metadata={"description": "The previous checkpoint's statement hash."})
    key_id = fields.String()
    signature = fields.String(metadata={"description": "Ed25519 over the canonical JSON statement; see docs/audit.md."})
    community = fields.Nested(CommunityProofSchema, allow_none=True, metadata={
        "description": "Format 2 only: the proof that your community's heads, as a whole, are under the signed root "
                       "(null if your community did not exist yet)."})
    heads = fields.List(fields.Nested(HeadProofSchema), metadata={"description": "Your community's heads, with their proofs."})


class PublicKeySchema(Schema):
    key_id = fields.String(metadata={"description": "sha256 of the raw public key."})
    public_pem = fields.String()


class PathQuery(StrictSchema):
    as_of = fields.Integer(load_default=None, strict=False, validate=validate.Range(min=1, max=2**31 - 1), metadata={
        "description": "The event's seq: the path as it was right after it (the instance's last event without it)."})


class PathElementSchema(Schema):
    id = fields.String()
    name = fields.String(allow_none=True)
    kind = fields.String(metadata={"description": "The BPMN element: userTask, exclusiveGateway, boundaryEvent, …"})
    lane = fields.String(allow_none=True, metadata={"description": "The role whose members act in the element's lane."})
    lane_name = fields.String(allow_none=True, metadata={"description": "The lane's name, as the diagram shows it."})
    state = fields.String(metadata={"description": "ready, error, waiting (a timer armed), completed or not_reached."})
    completed = fields.Integer(metadata={"description": "How many times it completed."})


class PathFlowSchema(Schema):
    id = fields.String()
    name = fields.String(allow_none=True)
    source = fields.String()
    target = fields.String()
    taken = fields.Integer(metadata={"description": "How many times a token went along it."})


class PathTaskSchema(Schema):
    id = fields.String()
    element_id = fields.String()
    name = fields.String(allow_none=True)
    lane = fields.String(allow_none=True)
    state = fields.String()


class PathTimerSchema(Schema):
    element_id = fields.String()
    name = fields.String(allow_none=True)
    due_at = fields.String()


class PathSchema(Schema):
    instance_id = fields.String()
    definition_key = fields.String()
    definition_version = fields.Integer()
    seq = fields.Integer()
    last_seq = fields.Integer()
    at = fields.String()
    event_type = fields.String()
    status = fields.String()
    states = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "BPMN element → ready, error, waiting or completed (elements never reached are absent)."})
    completed = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "BPMN element → times completed."})
    flows_taken = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "Sequence flow → times taken."})
    elements = fields.List(fields.Nested(PathElementSchema), metadata={"description": "Every flow node of the diagram."})
    flows = fields.List(fields.Nested(PathFlowSchema), metadata={"description": "Every sequence flow of the diagram."})
    open_tasks = fields.List(fields.Nested(PathTaskSchema))
    pending_timers = fields.List(fields.Nested(PathTimerSchema))
    history_matches = fields.Boolean(metadata={"description": "Every event up to seq replayed to its recorded digest."})


class ChainLinkSchema(Schema):
    seq = fields.Integer()
    hash = fields.String()
    linked = fields.Boolean(metadata={"description": "Its previous hash is the hash of the event before (zeros for the first)."})
    sealed = fields.Boolean(metadata={"description": "Its hash, recomputed from its content, is the one stored."})
