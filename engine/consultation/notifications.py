"""The consultation's notification sources: an opinion period opened (residents), and the answers to the caller's opinions.

An answer is shown to the opinion's author only (``opinions.get_opinion``: their own opinion and its answer); the
list names the verdict, never the text of an opinion or an answer.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.consultation.models import Opinion
from engine.identity.actors import Actor
from engine.kernel.models import Event, HumanTask, Instance
from engine.kernel.notifications import Notification, notification_source
from engine.kernel.preconditions import COLLECTS_PROPERTY as COLLECTS

VERDICT_WORDS = {"adopted": "adopted", "partly_adopted": "partly adopted", "not_adopted": "not adopted"}


@notification_source("consultation_periods")
def opinion_periods_opened(session: Session, actor: Actor, limit: int) -> list[Notification]:
    """When each consultation of the caller's community first opened its opinion period (the event that opened the task)."""
    if not actor.has("resident"):
        return []
    opened = func.min(Event.at).label("opened")
    title = Instance.data["title"].as_string()
    rows = session.execute(
        select(Instance.id, title, opened)
        .join(HumanTask, HumanTask.instance_id == Instance.id)
        .join(Event, (Event.instance_id == HumanTask.instance_id) & (Event.seq == HumanTask.opened_seq))
        .where(Instance.community_id == actor.community_id, HumanTask.community_id == actor.community_id,
               HumanTask.properties[COLLECTS].as_string() == "opinions")
        .group_by(Instance.id, title)
        .order_by(opened.desc(), Instance.id).limit(limit)
    ).all()
    return [Notification("opinion_period_opened", name or "Consultation", "An opinion period opened: residents may give their opinion.",
                         at, instance_id, {})
            for instance_id, name, at in rows]


@notification_source("consultation_answers")
def opinions_answered(session: Session, actor: Actor, limit: int) -> list[Notification]:
    """The caller's own opinions the committee has answered, at the (latest) answer's time."""
    rows = session.execute(
        select(Opinion.id, Opinion.instance_id, Opinion.answer_verdict, Opinion.answered_at, Instance.data["title"].as_string())
        .join(Instance, Instance.id == Opinion.instance_id)
        .where(Opinion.community_id == actor.community_id, Instance.community_id == actor.community_id,
               Opinion.author_id == actor.member_id, Opinion.answered_at.is_not(None))
        .order_by(Opinion.answered_at.desc(), Opinion.id).limit(limit)
    ).all()
    return [Notification("opinion_answered", title or "Consultation",
                         f"Your opinion was answered: {VERDICT_WORDS.get(verdict, verdict)}.", at, instance_id,
                         {"opinion_id": opinion_id, "verdict": verdict})
            for opinion_id, instance_id, verdict, at, title in rows]
