"""Consultation (协商): residents' opinions and the committee's answer to every one of them.

Opinions are rows of their own, not task data. An instance accepts them only while one of its
open tasks ``collects`` opinions (the opinion period) and accepts answers only while one collects
``opinion_answers``; the BPMN decides when, this module decides how. Every change is recorded
as an event in the instance's history.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from engine.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from engine.identity.actors import Actor
from engine.kernel.instances import get_instance, lock, record
from engine.kernel.models import Instance
from engine.consultation.models import Opinion
from engine.kernel.preconditions import COLLECTS_PROPERTY as COLLECTS
from engine.kernel.preconditions import precondition
from engine.kernel.queries import redacts
from engine.kernel.unit_of_work import UnitOfWork

VERDICTS = ("adopted", "partly_adopted", "not_adopted")
PRIVATE_FIELDS = {"opinion_submitted": ("text",), "opinion_edited": ("text",), "opinion_answered": ("verdict", "reason")}
"""What the history hides from residents about opinions that are not theirs: a resident sees
their own opinions and the answers to them; the committee and auditors see all."""
READ_ALL_ROLES = frozenset({"committee", "auditor"})
MAX_OPINION_LENGTH = 5000
MAX_REASON_LENGTH = 5000


def submit(uow: UnitOfWork, actor: Actor, instance_id: str, text: str) -> Opinion:
    instance = get_instance(uow.session, actor, instance_id)
    actor.require("resident")
    lock(uow.session, instance)
    _require_collecting(instance, "opinions", "the opinion period is not open")
    opinion = Opinion(
        instance_id=instance.id, community_id=instance.community_id, author_id=actor.member_id,
        text=_text(text, MAX_OPINION_LENGTH, "text"), status="submitted", revision=1,
        created_at=uow.now, updated_at=uow.now,
    )
    uow.session.add(opinion)
    uow.session.flush()
    record(uow, instance, "opinion_submitted", {"opinion_id": opinion.id, "text": opinion.text}, actor)
    return opinion


def edit(uow: UnitOfWork, actor: Actor, opinion_id: int, text: str) -> Opinion:
    opinion, instance = _own_opinion(uow.session, actor, opinion_id)
    opinion.text = _text(text, MAX_OPINION_LENGTH, "text")
    opinion.revision = Opinion.revision + 1
    opinion.updated_at = uow.now
    uow.session.flush()
    record(uow, instance, "opinion_edited", {"opinion_id": opinion.id, "revision": opinion.revision, "text": opinion.text}, actor)
    return opinion


def withdraw(uow: UnitOfWork, actor: Actor, opinion_id: int) -> Opinion:
    opinion, instance = _own_opinion(uow.session, actor, opinion_id)
    opinion.status = "withdrawn"
    opinion.updated_at = uow.now
    record(uow, instance, "opinion_withdrawn", {"opinion_id": opinion.id}, actor)
    return opinion


def answer(uow: UnitOfWork, actor: Actor, opinion_id: int, verdict: str, reason: str) -> Opinion:
    opinion = get_opinion(uow.session, actor, opinion_id)
    instance = get_instance(uow.session, actor, opinion.instance_id)
    actor.require("committee")
    lock(uow.session, instance, opinion)
    _require_collecting(instance, "opinion_answers", "opinions can be answered only while the answering task is open")
    if opinion.status == "withdrawn":
        raise Conflict("a withdrawn opinion needs no answer")
    if verdict not in VERDICTS:
        raise InvalidInput(f"verdict must be one of {', '.join(VERDICTS)}", errors=[{"field": "verdict", "message": "unknown verdict"}])
    opinion.answer_verdict = verdict
    opinion.answer_reason = _text(reason, MAX_REASON_LENGTH, "reason")
    opinion.answered_by = actor.member_id
    opinion.answered_at = uow.now
    record(uow, instance, "opinion_answered", {"opinion_id": opinion.id, "verdict": verdict, "reason": opinion.answer_reason}, actor)
    return opinion


@precondition("all_opinions_answered")
def unanswered_opinions(session: Session, instance: Instance) -> str | None:
    count = session.scalar(
        select(func.count()).select_from(Opinion).where(
            Opinion.instance_id == instance.id, Opinion.status == "submitted", Opinion.answer_verdict.is_(None)
        )
    )
    if count == 1:
        raise Conflict(f"{count} opinion is still unanswered; answer every opinion first", precondition="all_opinions_answered")
    if count:
        raise Conflict(f"{count} opinions are still unanswered; answer every opinion first", precondition="all_opinions_answered")
    return None


def get_opinion(session: Session, actor: Actor, opinion_id: int) -> Opinion:
    """An opinion the caller may read: their own, or any of their community's for committee and auditors."""
    opinion = actor.own(session.get(Opinion, opinion_id), "opinion")
    if opinion.author_id != actor.member_id and not actor.roles & READ_ALL_ROLES:
        raise NotFound("opinion not found")
    return opinion


def visible_opinions(session: Session, actor: Actor, instance_id: str) -> Select[tuple[Opinion]]:
    """The query for an instance's opinions that the caller may read, oldest first."""
    instance = get_instance(session, actor, instance_id)
    query = select(Opinion).where(Opinion.instance_id == instance.id).order_by(Opinion.id)
    if not actor.roles & READ_ALL_ROLES:
        query = query.where(Opinion.author_id == actor.member_id)
    return query


@redacts(*PRIVATE_FIELDS)
def redact(session: Session, actor: Actor, instance_id: str, event_type: str, input: dict[str, Any]) -> dict[str, Any] | None:
    """The event input as the caller may see it in the history, or None when nothing is hidden."""
    hidden = PRIVATE_FIELDS.get(event_type)
    if not hidden or actor.roles & READ_ALL_ROLES:
        return None
    own = set(session.scalars(select(Opinion.id).where(Opinion.instance_id == instance_id, Opinion.author_id == actor.member_id)))
    if input.get("opinion_id") in own:
        return None
    return {key: value for key, value in input.items() if key not in hidden}


def _own_opinion(session: Session, actor: Actor, opinion_id: int) -> tuple[Opinion, Instance]:
    opinion = get_opinion(session, actor, opinion_id)
    if opinion.author_id != actor.member_id:
        raise PermissionDenied("only its author can change an opinion")
    instance = get_instance(session, actor, opinion.instance_id)
    lock(session, instance, opinion)
    if opinion.status == "withdrawn":
        raise Conflict("the opinion was withdrawn")
    _require_collecting(instance, "opinions", "the opinion period is closed")
    return opinion, instance


def _require_collecting(instance: Instance, what: str, message: str) -> None:
    if instance.status != "running" or not any(
        task.state == "READY" and task.properties.get(COLLECTS) == what for task in instance.tasks
    ):
        raise Conflict(message)


def _text(value: str, limit: int, field: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > limit:
        raise InvalidInput(f"{field} must be 1 to {limit} characters", errors=[{"field": field, "message": f"1 to {limit} characters"}])
    return value
