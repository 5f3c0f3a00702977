"""Request and response schemas (marshmallow), which flask-smorest also turns into the OpenAPI spec."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from engine import conventions, pdca, service_records
from engine.consultation import MAX_OPINION_LENGTH, MAX_REASON_LENGTH, VERDICTS
from engine.identity import ROLES
from api.limits import DB_INT_MAX, MAX_PAGE
from engine.queries import MAX_PAGE_SIZE


class StrictSchema(Schema):
    """Input schemas refuse unknown fields, so a typo is an error rather than silently ignored."""

    class Meta:
        ordered = True


def owner_word(definition: Any) -> str:
    """Whose a definition version is, as the API says it: the platform's, or the caller's community's."""
    return "platform" if definition.community_id is None else "community"


def bounded() -> validate.Range:
    """Integers in input fit the database's integer columns (ids, versions, rounds): 1 to ``DB_INT_MAX``."""
    return validate.Range(min=1, max=DB_INT_MAX)


class PageQuery(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
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


class ArticleSchema(Schema):
    id = fields.String(metadata={"description": "Stable through every version, e.g. a3."})
    text = fields.String()


class ConventionVersionSchema(Schema):
    number = fields.Integer()
    title = fields.String()
    fingerprint = fields.String(metadata={"description": "sha256 of the canonical JSON {\"articles\": [...], \"title\": ...}."})
    kind = fields.String(metadata={"description": "draft (the committee's) or consolidated (a round's accepted amendments applied)."})
    reason = fields.String()
    based_on = fields.Integer(allow_none=True)
    amendments = fields.List(fields.Integer(), attribute="amendment_ids", metadata={"description": "The amendments it applied."})
    instance_id = fields.String()
    created_by = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class ConventionVersionDetailSchema(ConventionVersionSchema):
    articles = fields.List(fields.Nested(ArticleSchema))


class DraftingRoundSchema(Schema):
    number = fields.Integer()
    status = fields.String(metadata={"description": "amending, reviewing, notice, voting, passed, adopted, rejected or abandoned."})
    reason = fields.String()
    base_version = fields.Integer(attribute="base_number", metadata={"description": "The version amendments apply to."})
    result_version = fields.Integer(attribute="result_number", allow_none=True, metadata={"description": "The consolidated version."})
    amendment_deadline = fields.DateTime()
    notice_days = fields.Integer()
    notice_ends = fields.DateTime(allow_none=True)
    vote_id = fields.String(allow_none=True)
    vote_outcome = fields.String(allow_none=True)
    closing_reason = fields.String(allow_none=True)
    instance_id = fields.String()
    opened_by = fields.Integer(allow_none=True)
    opened_at = fields.DateTime()
    updated_at = fields.DateTime()
    amendments = fields.Function(lambda r: conventions.amendment_counts(r.amendments),
                                 metadata={"description": "Amendments undecided, withdrawn, and by outcome."})
    comments = fields.Function(lambda r: len(r.comments))
    open_tasks = fields.Function(lambda r: [t.element_id for t in r.instance.tasks if t.state == "READY"],
                                 metadata={"description": "The process's open tasks, e.g. configure_vote."})


class ConventionSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    status = fields.String(metadata={"description": "drafting, adopted or abandoned."})
    adopted_version = fields.Integer(attribute="adopted_number", allow_none=True, metadata={"description": "The version in force."})
    effective_date = fields.Date(allow_none=True)
    adopted_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ConventionDetailSchema(ConventionSchema):
    adopted_text = fields.Nested(ConventionVersionDetailSchema, attribute="adopted_version", allow_none=True)
    latest_version = fields.Function(lambda c: c.versions[-1].number if c.versions else None)
    current_round = fields.Function(lambda c: DraftingRoundSchema().dump(c.rounds[-1]) if c.rounds else None)


class TextOpSchema(Schema):
    op = fields.String(metadata={"description": "equal, delete or insert."})
    text = fields.String()


class TitleDiffSchema(Schema):
    old = fields.String()
    new = fields.String()
    changes = fields.List(fields.Nested(TextOpSchema))


class ArticleDiffSchema(Schema):
    id = fields.String()
    status = fields.String(metadata={"description": "added, removed, changed or unchanged."})
    moved = fields.Boolean(metadata={"description": "True when it left its place in the order relative to the others."})
    old_position = fields.Integer(allow_none=True)
    new_position = fields.Integer(allow_none=True)
    old_text = fields.String(allow_none=True)
    new_text = fields.String(allow_none=True)
    changes = fields.List(fields.Nested(TextOpSchema), metadata={"description": "Word by word; character by character in Chinese."})


class VersionRefSchema(Schema):
    number = fields.Integer()
    fingerprint = fields.String()


class DiffSummarySchema(Schema):
    added = fields.Integer()
    removed = fields.Integer()
    changed = fields.Integer()
    moved = fields.Integer()
    unchanged = fields.Integer()


class ConventionDiffSchema(Schema):
    convention_id = fields.Integer()
    old = fields.Nested(VersionRefSchema, data_key="from")
    new = fields.Nested(VersionRefSchema, data_key="to")
    title = fields.Nested(TitleDiffSchema)
    articles = fields.List(fields.Nested(ArticleDiffSchema))
    summary = fields.Nested(DiffSummarySchema)


class DiffQuery(StrictSchema):
    old = fields.Integer(data_key="from", required=True, validate=bounded())
    new = fields.Integer(data_key="to", required=True, validate=bounded())


class AmendmentSchema(Schema):
    id = fields.Integer()
    convention_id = fields.Integer()
    round = fields.Function(lambda a: a.round.number)
    kind = fields.String()
    article_id = fields.String(allow_none=True)
    after = fields.String(attribute="after_id", allow_none=True)
    version = fields.Integer(attribute="version_number", metadata={"description": "The version its author read."})
    original_text = fields.String(allow_none=True, metadata={"description": "The article as it stands in the round's text."})
    text = fields.String(allow_none=True)
    changes = fields.Function(conventions.proposed_changes, metadata={"description": "What the proposal does to the article."})
    rationale = fields.String()
    author_id = fields.Integer()
    status = fields.String(metadata={"description": "proposed or withdrawn."})
    supporters = fields.Function(lambda a: [s.member_id for s in a.supports])
    decision = fields.Function(
        lambda a: None if a.outcome is None else {
            "outcome": a.outcome, "reason": a.decision_reason, "text": a.decision_text,
            "changes": conventions.decided_changes(a), "decided_by": a.decided_by, "decided_at": a.decided_at.isoformat(),
        }
    )
    result_article_id = fields.String(allow_none=True, metadata={"description": "Its article in the consolidated version."})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class AmendmentFilter(PageQuery):
    round = fields.Integer(validate=bounded())


class ProposeAmendmentSchema(StrictSchema):
    version = fields.Integer(required=True, validate=bounded(),
                             metadata={"description": "The version you read; if the article changed since, the proposal is refused (409 stale_version)."})
    kind = fields.String(required=True, validate=validate.OneOf(conventions.KINDS))
    article_id = fields.String(load_default=None, validate=validate.Length(min=1, max=20),
                               metadata={"description": "The article to replace or delete."})
    after = fields.String(load_default=None, validate=validate.Length(min=1, max=20),
                          metadata={"description": "Insertions: the article the new one follows; leave out to insert at the start."})
    text = fields.String(load_default=None, validate=validate.Length(min=1, max=conventions.MAX_TEXT_LENGTH),
                         metadata={"description": "The new wording (replace, insert)."})
    rationale = fields.String(required=True, validate=validate.Length(min=1, max=conventions.MAX_TEXT_LENGTH))


class DecisionSchema(StrictSchema):
    outcome = fields.String(required=True, validate=validate.OneOf(conventions.OUTCOMES))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=conventions.MAX_TEXT_LENGTH))
    text = fields.String(load_default=None, validate=validate.Length(min=1, max=conventions.MAX_TEXT_LENGTH),
                         metadata={"description": "The committee's wording, with accepted_with_changes only."})


class ArticleCommentSchema(Schema):
    id = fields.Integer()
    round = fields.Function(lambda c: c.round.number)
    article_id = fields.String()
    version = fields.Integer(attribute="version_number")
    author_id = fields.Integer()
    text = fields.String()
    created_at = fields.DateTime()


class NewCommentSchema(StrictSchema):
    version = fields.Integer(required=True, validate=bounded())
    article_id = fields.String(required=True, validate=validate.Length(min=1, max=20))
    text = fields.String(required=True, validate=validate.Length(min=1, max=conventions.MAX_TEXT_LENGTH))


class CommentFilter(PageQuery):
    round = fields.Integer(validate=bounded())
    article_id = fields.String(validate=validate.Length(min=1, max=20))


class ConventionHistoryEntrySchema(Schema):
    instance_id = fields.String()
    seq = fields.Integer()
    at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    type = fields.String()
    details = fields.Dict(metadata={"description": "The recorded input of a domain event, or the recorded result of a process step."})


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
    comment = fields.String(load_default=None, validate=validate.Length(max=pdca.MAX_TEXT))


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
    kind = fields.String(required=True, validate=validate.OneOf(service_records.REQUEST_KINDS))
    text = fields.String(required=True, validate=validate.Length(min=1, max=pdca.MAX_TEXT))


class RequestAnswerSchema(StrictSchema):
    answer = fields.String(required=True, validate=validate.Length(min=1, max=pdca.MAX_TEXT))


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
    description = fields.String(required=True, validate=validate.Length(min=1, max=pdca.MAX_TEXT))
    owner_id = fields.Integer(required=True, strict=True, validate=bounded())
    due_date = fields.String(required=True, metadata={"description": "YYYY-MM-DD, today or later"})


class ActionReportSchema(StrictSchema):
    report = fields.String(required=True, validate=validate.Length(min=1, max=pdca.MAX_TEXT))


class ActionVerificationSchema(StrictSchema):
    effective = fields.Boolean(required=True, truthy={True}, falsy={False})
    note = fields.String(required=True, validate=validate.Length(min=1, max=pdca.MAX_TEXT))


class TightenStandardSchema(StrictSchema):
    targets = fields.Dict(keys=fields.String(), values=fields.Float(allow_nan=False), required=True,
                          metadata={"description": "Indicator key → its new target, stricter than (or equal to) the current one."})


class EndSeriesSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=pdca.MAX_TEXT))


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
