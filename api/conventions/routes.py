"""Conventions (社区公约): texts and their versions, diffs, rounds, amendments, comments and the history.

Everything here is readable by every member of the community: residents see every amendment
and every decision. Residents propose, support and withdraw amendments and comment on articles
during a round's amendment period; the committee decides each amendment during its review.
"""

from __future__ import annotations

from typing import Any


from api.auth import actor
from api.views import Blueprint, engine, reader
from api.conventions.schemas import (
    AmendmentFilter, AmendmentSchema, ArticleCommentSchema, CommentFilter, ConventionDetailSchema, ConventionDiffSchema, ConventionHistoryEntrySchema, ConventionSchema, ConventionVersionDetailSchema, ConventionVersionSchema, DecisionSchema, DiffQuery, DraftingRoundSchema, NewCommentSchema, ProposeAmendmentSchema,
)
from api.schemas import PageQuery, page_of
from engine.conventions.commands import (
    CommentOnArticle, DecideAmendment, ProposeAmendment, SupportAmendment, WithdrawAmendment,
)
from engine.conventions import queries as conventions_queries
from engine.kernel.queries import paginate

blp = Blueprint("conventions", __name__, url_prefix="/api",
                description="Community conventions: versions, diffs, rounds, amendments, comments and their history")


@blp.route("/conventions")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(ConventionSchema, "ConventionPage"))
def list_conventions(args: dict[str, Any]) -> Any:
    """The community's conventions, adopted, being drafted or abandoned."""
    return paginate(reader(), conventions_queries.conventions_of(actor()), args["page"], args["page_size"])


@blp.route("/conventions/<int:convention_id>")
@blp.response(200, ConventionDetailSchema)
def get(convention_id: int) -> Any:
    """A convention with its text in force (the adopted version, with its effective date) and its current round."""
    return conventions_queries.get_convention(reader(), actor(), convention_id)


@blp.route("/conventions/<int:convention_id>/versions")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(ConventionVersionSchema, "ConventionVersionPage"))
def versions(args: dict[str, Any], convention_id: int) -> Any:
    """Every version, oldest first: who made it, why, and its fingerprint."""
    session = reader()
    return paginate(session, conventions_queries.versions_of(session, actor(), convention_id), args["page"], args["page_size"])


@blp.route("/conventions/<int:convention_id>/versions/<int:number>")
@blp.response(200, ConventionVersionDetailSchema)
def version(convention_id: int, number: int) -> Any:
    return conventions_queries.get_version(reader(), actor(), convention_id, number)


@blp.route("/conventions/<int:convention_id>/diff")
@blp.arguments(DiffQuery, location="query")
@blp.response(200, ConventionDiffSchema)
def diff(args: dict[str, Any], convention_id: int) -> Any:
    """What changed between two versions (`?from=1&to=3`), article by article and word by word."""
    return conventions_queries.diff(reader(), actor(), convention_id, args["old"], args["new"])


@blp.route("/conventions/<int:convention_id>/rounds")
@blp.response(200, DraftingRoundSchema(many=True))
def rounds(convention_id: int) -> Any:
    return conventions_queries.rounds_of(reader(), actor(), convention_id)


@blp.route("/conventions/<int:convention_id>/rounds/<int:number>")
@blp.response(200, DraftingRoundSchema)
def round_status(convention_id: int, number: int) -> Any:
    """Where a round stands: its phase, deadlines, amendments by outcome, vote, and the process's open tasks."""
    return conventions_queries.get_round(reader(), actor(), convention_id, number)


@blp.route("/conventions/<int:convention_id>/amendments")
@blp.arguments(AmendmentFilter, location="query")
@blp.response(200, page_of(AmendmentSchema, "AmendmentPage"))
def amendments(args: dict[str, Any], convention_id: int) -> Any:
    """Every amendment (of one round with `?round=`), with its support and the committee's decision."""
    session = reader()
    query = conventions_queries.amendments_of(session, actor(), convention_id, args.get("round"))
    return paginate(session, query, args["page"], args["page_size"])


@blp.route("/conventions/<int:convention_id>/amendments", methods=["POST"])
@blp.arguments(ProposeAmendmentSchema)
@blp.response(201, AmendmentSchema)
def propose(args: dict[str, Any], convention_id: int) -> Any:
    """Propose an amendment (residents, during the amendment period) against the version you read.

    If the article has changed since that version, the proposal is refused with 409 `stale_version`
    and the current text in `details`.
    """
    amendment = engine().execute(ProposeAmendment(convention_id, **args), actor())
    return _fresh(amendment.id)


@blp.route("/amendments/<int:amendment_id>")
@blp.response(200, AmendmentSchema)
def amendment(amendment_id: int) -> Any:
    return _fresh(amendment_id)


@blp.route("/amendments/<int:amendment_id>/support", methods=["POST"])
@blp.response(200, AmendmentSchema)
def support(amendment_id: int) -> Any:
    """Support another resident's amendment (once, during the amendment period)."""
    engine().execute(SupportAmendment(amendment_id), actor())
    return _fresh(amendment_id)


@blp.route("/amendments/<int:amendment_id>/withdraw", methods=["POST"])
@blp.response(200, AmendmentSchema)
def withdraw(amendment_id: int) -> Any:
    """Withdraw your amendment, before the amendment deadline."""
    engine().execute(WithdrawAmendment(amendment_id), actor())
    return _fresh(amendment_id)


@blp.route("/amendments/<int:amendment_id>/decision", methods=["PUT"])
@blp.arguments(DecisionSchema)
@blp.response(200, AmendmentSchema)
def decide(args: dict[str, Any], amendment_id: int) -> Any:
    """The committee's decision, with its reason (while it reviews the round's amendments); deciding again revises it."""
    engine().execute(DecideAmendment(amendment_id, args["outcome"], args["reason"], args["text"]), actor())
    return _fresh(amendment_id)


@blp.route("/conventions/<int:convention_id>/comments")
@blp.arguments(CommentFilter, location="query")
@blp.response(200, page_of(ArticleCommentSchema, "ArticleCommentPage"))
def comments(args: dict[str, Any], convention_id: int) -> Any:
    session = reader()
    query = conventions_queries.comments_of(session, actor(), convention_id, args.get("round"), args.get("article_id"))
    return paginate(session, query, args["page"], args["page_size"])


@blp.route("/conventions/<int:convention_id>/comments", methods=["POST"])
@blp.arguments(NewCommentSchema)
@blp.response(201, ArticleCommentSchema)
def comment(args: dict[str, Any], convention_id: int) -> Any:
    """Comment on an article (residents, during the amendment period)."""
    note = engine().execute(CommentOnArticle(convention_id, args["version"], args["article_id"], args["text"]), actor())
    return conventions_queries.get_comment(reader(), actor(), note.id)


@blp.route("/conventions/<int:convention_id>/history")
@blp.response(200, ConventionHistoryEntrySchema(many=True))
def history(convention_id: int) -> Any:
    """The whole history, in order: rounds, versions with their fingerprints, amendments, decisions, votes, adoption."""
    return conventions_queries.history(reader(), actor(), convention_id)


def _fresh(amendment_id: int) -> Any:
    return conventions_queries.get_amendment(reader(), actor(), amendment_id)
