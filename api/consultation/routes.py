"""Opinions in a consultation: residents submit, edit and withdraw; the committee answers each."""

from __future__ import annotations

from typing import Any


from api.auth import actor
from api.views import Blueprint, engine, reader
from api.consultation.schemas import AnswerSchema, OpinionSchema, OpinionTextSchema
from api.schemas import PageQuery, page_of
from engine.consultation.commands import AnswerOpinion, EditOpinion, SubmitOpinion, WithdrawOpinion
from engine.consultation import opinions
from engine.kernel.queries import paginate

blp = Blueprint("opinions", __name__, url_prefix="/api", description="Residents' opinions and the committee's answers")


@blp.route("/instances/<instance_id>/opinions")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(OpinionSchema, "OpinionPage"))
def list_opinions(args: dict[str, Any], instance_id: str) -> Any:
    """Residents see their own opinions; the committee and auditors see all."""
    session = reader()
    return paginate(session, opinions.visible_opinions(session, actor(), instance_id), args["page"], args["page_size"])


@blp.route("/instances/<instance_id>/opinions", methods=["POST"])
@blp.arguments(OpinionTextSchema)
@blp.response(201, OpinionSchema)
def submit(args: dict[str, Any], instance_id: str) -> Any:
    return _fresh(engine().execute(SubmitOpinion(instance_id, args["text"]), actor()).id)


@blp.route("/opinions/<int:opinion_id>")
@blp.response(200, OpinionSchema)
def get(opinion_id: int) -> Any:
    return _fresh(opinion_id)


@blp.route("/opinions/<int:opinion_id>", methods=["PATCH"])
@blp.arguments(OpinionTextSchema)
@blp.response(200, OpinionSchema)
def edit(args: dict[str, Any], opinion_id: int) -> Any:
    engine().execute(EditOpinion(opinion_id, args["text"]), actor())
    return _fresh(opinion_id)


@blp.route("/opinions/<int:opinion_id>/withdraw", methods=["POST"])
@blp.response(200, OpinionSchema)
def withdraw(opinion_id: int) -> Any:
    engine().execute(WithdrawOpinion(opinion_id), actor())
    return _fresh(opinion_id)


@blp.route("/opinions/<int:opinion_id>/answer", methods=["PUT"])
@blp.arguments(AnswerSchema)
@blp.response(200, OpinionSchema)
def answer(args: dict[str, Any], opinion_id: int) -> Any:
    """Answer an opinion (committee, while the answering task is open); answering again revises it."""
    engine().execute(AnswerOpinion(opinion_id, args["verdict"], args["reason"]), actor())
    return _fresh(opinion_id)


def _fresh(opinion_id: int) -> Any:
    return opinions.get_opinion(reader(), actor(), opinion_id)
