"""Schemas of conventions: versions, diffs, rounds, amendments, comments and the history."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import PageQuery, StrictSchema, bounded
from engine.conventions import queries as conventions_queries


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
    amendments = fields.Function(lambda r: conventions_queries.amendment_counts(r.amendments),
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
    changes = fields.Function(conventions_queries.proposed_changes, metadata={"description": "What the proposal does to the article."})
    rationale = fields.String()
    author_id = fields.Integer()
    status = fields.String(metadata={"description": "proposed or withdrawn."})
    supporters = fields.Function(lambda a: [s.member_id for s in a.supports])
    decision = fields.Function(
        lambda a: None if a.outcome is None else {
            "outcome": a.outcome, "reason": a.decision_reason, "text": a.decision_text,
            "changes": conventions_queries.decided_changes(a), "decided_by": a.decided_by, "decided_at": a.decided_at.isoformat(),
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
    kind = fields.String(required=True, validate=validate.OneOf(conventions_queries.KINDS))
    article_id = fields.String(load_default=None, validate=validate.Length(min=1, max=20),
                               metadata={"description": "The article to replace or delete."})
    after = fields.String(load_default=None, validate=validate.Length(min=1, max=20),
                          metadata={"description": "Insertions: the article the new one follows; leave out to insert at the start."})
    text = fields.String(load_default=None, validate=validate.Length(min=1, max=conventions_queries.MAX_TEXT_LENGTH),
                         metadata={"description": "The new wording (replace, insert)."})
    rationale = fields.String(required=True, validate=validate.Length(min=1, max=conventions_queries.MAX_TEXT_LENGTH))


class DecisionSchema(StrictSchema):
    outcome = fields.String(required=True, validate=validate.OneOf(conventions_queries.OUTCOMES))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=conventions_queries.MAX_TEXT_LENGTH))
    text = fields.String(load_default=None, validate=validate.Length(min=1, max=conventions_queries.MAX_TEXT_LENGTH),
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
    text = fields.String(required=True, validate=validate.Length(min=1, max=conventions_queries.MAX_TEXT_LENGTH))


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
