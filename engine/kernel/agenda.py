"""A member's agenda: what needs them now, gathered from every domain.

The kernel knows no domain: each domain registers a source (``@agenda_source("voting")``), a
function ``(session, actor, now) -> list[AgendaItem]`` that answers, in one query scoped to the
caller's community, what the caller may do there now and has not done (a ballot to cast, an
opinion period open, …). ``agenda`` gathers every source's items, soonest deadline first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from engine.identity.actors import Actor
from engine.kernel.models import HumanTask, Instance, Timer
from engine.kernel.preconditions import COLLECTS_PROPERTY


@dataclass(frozen=True)
class AgendaItem:
    """One thing a member may do now: its kind (``cast_ballot``, …), a title, its deadline, the instance and the ids to act on."""

    kind: str
    title: str
    deadline: datetime | None
    instance_id: str
    refs: dict[str, Any] = field(default_factory=dict)


Source = Callable[[Session, Actor, datetime], list[AgendaItem]]
SOURCES: dict[str, Source] = {}


def agenda_source(name: str) -> Callable[[Source], Source]:
    """Register the decorated function as the agenda source ``name``."""
    def register(source: Source) -> Source:
        SOURCES[name] = source
        return source
    return register


def agenda(session: Session, actor: Actor, now: datetime) -> list[AgendaItem]:
    """Every source's items for the caller, by deadline (none last), then title."""
    items = [item for source in SOURCES.values() for item in source(session, actor, now)]
    return sorted(items, key=lambda i: (i.deadline is None, i.deadline.timestamp() if i.deadline else 0.0, i.title, i.kind, i.instance_id))


def collecting(instance_id: Any, what: str) -> ColumnElement[bool]:
    """SQL: the instance is running and one of its READY tasks ``collects`` ``what`` (as the domains' own checks ask)."""
    return exists().where(
        Instance.id == instance_id, Instance.status == "running",
        HumanTask.instance_id == Instance.id, HumanTask.state == "READY",
        HumanTask.properties[COLLECTS_PROPERTY].as_string() == what,
    )


def earliest_timer(instance_id: Any) -> Any:
    """SQL: the instance's earliest pending timer (a correlated scalar subquery), the deadline its open task runs to."""
    return select(func.min(Timer.due_at)).where(Timer.instance_id == instance_id).scalar_subquery()


@agenda_source("tasks")
def ready_tasks(session: Session, actor: Actor, now: datetime) -> list[AgendaItem]:
    """The ready tasks of the caller's community in a lane that is one of the caller's roles (as ``queries.my_tasks``):
    the committee's, the provider's, the street office's work; no bundled process has a resident lane."""
    if not actor.roles:
        return []
    rows = session.execute(
        select(HumanTask.id, HumanTask.name, HumanTask.element_id, HumanTask.lane, HumanTask.instance_id,
               earliest_timer(HumanTask.instance_id))
        .join(Instance, Instance.id == HumanTask.instance_id)
        .where(HumanTask.community_id == actor.community_id, Instance.community_id == actor.community_id,
               HumanTask.state == "READY", Instance.status == "running", HumanTask.lane.in_(sorted(actor.roles)))
    ).all()
    return [AgendaItem("complete_task", name, due, instance_id, {"task_id": task_id, "element_id": element_id, "lane": lane})
            for task_id, name, element_id, lane, instance_id, due in rows]


__all__ = ["AgendaItem", "SOURCES", "agenda", "agenda_source", "collecting", "earliest_timer"]
