"""Read side: what the API lists and shows, scoped to the caller's community, paginated.

Nothing here deserializes a workflow: lists read the instance rows and the task index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from engine.audit.sealing import chain
from engine.kernel.definitions import visible_to
from engine.identity.actors import Actor
from engine.kernel.instances import get_instance
from engine.identity.models import Community, Member
from engine.kernel.models import Definition, DefinitionAdoption, Event, HumanTask, Instance

T = TypeVar("T")
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


def paginate(session: Session, query: Select[Any], page: int, page_size: int) -> Page[Any]:
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    page = max(1, page)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    items = list(session.scalars(query.limit(page_size).offset((page - 1) * page_size)))
    return Page(items, total, page, page_size)


def community(session: Session, actor: Actor) -> Community:
    found = session.get(Community, actor.community_id)
    assert found is not None
    return found


def members(session: Session, actor: Actor, page: int, page_size: int) -> Page[Member]:
    query = select(Member).where(Member.community_id == actor.community_id).order_by(Member.id)
    return paginate(session, query, page, page_size)


def definitions(session: Session, actor: Actor, page: int, page_size: int, key: str | None = None) -> Page[Definition]:
    """The versions the caller's community sees: the platform's and its own (no other community's)."""
    query = (select(Definition).where(visible_to(actor.community_id))
             .order_by(Definition.key, Definition.community_id.is_(None), Definition.version.desc()))
    if key:
        query = query.where(Definition.key == key)
    return paginate(session, query, page, page_size)


def adoptions(session: Session, actor: Actor, key: str) -> list[DefinitionAdoption]:
    """The caller's community's choices of the version it runs for ``key``, oldest first."""
    return list(session.scalars(select(DefinitionAdoption).where(
        DefinitionAdoption.community_id == actor.community_id, DefinitionAdoption.key == key).order_by(DefinitionAdoption.number)))


def instances(
    session: Session, actor: Actor, page: int, page_size: int, *, status: str | None = None, key: str | None = None
) -> Page[Instance]:
    query = select(Instance).where(Instance.community_id == actor.community_id).order_by(Instance.started_at.desc(), Instance.id)
    if status:
        query = query.where(Instance.status == status)
    if key:
        query = query.join(Definition).where(Definition.key == key)
    return paginate(session, query, page, page_size)


def my_tasks(session: Session, actor: Actor, page: int, page_size: int, instance_id: str | None = None) -> Page[HumanTask]:
    """Ready tasks in the caller's community whose lane is one of the caller's roles."""
    query = (
        select(HumanTask)
        .where(HumanTask.community_id == actor.community_id, HumanTask.state == "READY", HumanTask.lane.in_(sorted(actor.roles)))
        .order_by(HumanTask.opened_seq, HumanTask.id)
    )
    if instance_id:
        query = query.where(HumanTask.instance_id == instance_id)
    return paginate(session, query, page, page_size)


Redactor = Callable[[Session, Actor, str, str, dict[str, Any]], "dict[str, Any] | None"]
"""``redact(session, actor, instance_id, event_type, input)``: the input as the caller may see it, or None when nothing is hidden."""
REDACTORS: dict[str, Redactor] = {}


def redacts(*event_types: str) -> Callable[[Redactor], Redactor]:
    """Register the decorated function as what hides the private inputs of these event types from the history's readers."""
    def register(redactor: Redactor) -> Redactor:
        for event_type in event_types:
            REDACTORS[event_type] = redactor
        return redactor
    return register


@dataclass(frozen=True)
class HistoryEntry:
    """An event as one reader may see it: inputs private to someone else are left out."""

    seq: int
    type: str
    actor_id: int | None
    at: datetime
    input: dict[str, Any]
    state_digest: str
    error: dict[str, Any] | None
    redacted: bool
    disposition: str
    records: list[dict[str, Any]]
    prev_hash: str
    hash: str


def events(session: Session, actor: Actor, instance_id: str, page: int, page_size: int) -> Page[HistoryEntry]:
    """An instance's history, oldest first; residents do not see others' opinions in it."""
    instance = get_instance(session, actor, instance_id)
    found = paginate(session, select(Event).where(Event.instance_id == instance.id).order_by(Event.seq), page, page_size)
    return Page([_entry(session, actor, event) for event in found.items], found.total, found.page, found.page_size)


def _entry(session: Session, actor: Actor, event: Event) -> HistoryEntry:
    redactor = REDACTORS.get(event.type)
    shown = redactor(session, actor, event.instance_id, event.type, event.input) if redactor else None
    return HistoryEntry(
        event.seq, event.type, event.actor_id, event.at, event.input if shown is None else shown,
        event.state_digest, event.error, shown is not None, chain.disposition(event.error), event.records,
        event.prev_hash, event.hash,
    )
