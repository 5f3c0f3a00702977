"""Consultation's command handlers."""

from __future__ import annotations

from engine.consultation import opinions
from engine.consultation.commands import AnswerOpinion, EditOpinion, SubmitOpinion, WithdrawOpinion
from engine.consultation.models import Opinion
from engine.identity.actors import Actor
from engine.kernel.bus import handles
from engine.kernel.unit_of_work import UnitOfWork


@handles(SubmitOpinion)
def submit_opinion(uow: UnitOfWork, actor: Actor, cmd: SubmitOpinion) -> Opinion:
    return opinions.submit(uow, actor, cmd.instance_id, cmd.text)


@handles(EditOpinion)
def edit_opinion(uow: UnitOfWork, actor: Actor, cmd: EditOpinion) -> Opinion:
    return opinions.edit(uow, actor, cmd.opinion_id, cmd.text)


@handles(WithdrawOpinion)
def withdraw_opinion(uow: UnitOfWork, actor: Actor, cmd: WithdrawOpinion) -> Opinion:
    return opinions.withdraw(uow, actor, cmd.opinion_id)


@handles(AnswerOpinion)
def answer_opinion(uow: UnitOfWork, actor: Actor, cmd: AnswerOpinion) -> Opinion:
    return opinions.answer(uow, actor, cmd.opinion_id, cmd.verdict, cmd.reason)
