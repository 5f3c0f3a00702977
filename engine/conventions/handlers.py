"""Conventions' command handlers: amendments and comments."""

from __future__ import annotations

from engine.conventions import amendments
from engine.conventions.commands import CommentOnArticle, DecideAmendment, ProposeAmendment, SupportAmendment, WithdrawAmendment
from engine.conventions.models import Amendment, ArticleComment
from engine.identity.actors import Actor
from engine.kernel.bus import handles
from engine.kernel.unit_of_work import UnitOfWork


@handles(ProposeAmendment)
def propose_amendment(uow: UnitOfWork, actor: Actor, cmd: ProposeAmendment) -> Amendment:
    return amendments.propose(uow, actor, cmd)


@handles(SupportAmendment)
def support_amendment(uow: UnitOfWork, actor: Actor, cmd: SupportAmendment) -> Amendment:
    return amendments.support(uow, actor, cmd.amendment_id)


@handles(WithdrawAmendment)
def withdraw_amendment(uow: UnitOfWork, actor: Actor, cmd: WithdrawAmendment) -> Amendment:
    return amendments.withdraw(uow, actor, cmd.amendment_id)


@handles(DecideAmendment)
def decide_amendment(uow: UnitOfWork, actor: Actor, cmd: DecideAmendment) -> Amendment:
    return amendments.decide(uow, actor, cmd)


@handles(CommentOnArticle)
def comment_on_article(uow: UnitOfWork, actor: Actor, cmd: CommentOnArticle) -> ArticleComment:
    return amendments.comment(uow, actor, cmd)
