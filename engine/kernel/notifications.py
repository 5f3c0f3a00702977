"""A member's notifications: what happened that concerns them, derived from the history every domain keeps.

Nothing is stored per notification. Each domain registers a source (``@notification_source("voting")``), a function
``(session, actor, limit) -> list[Notification]`` that answers, in one query scoped to the caller's community, the
newest ``limit`` things that happened for the caller there (a vote opened in their electorate, their opinion
answered, …), each with the moment it happened. A source shows only what the caller may read anyway: their own
opinions and requests, what is public to their community, and never a secret ballot's choice (no source reads
ballots). ``notifications`` gathers every source's items, newest first.

Which are new is one row per member (``NotificationRead``): every notification up to its ``read_until`` is read.
The command ``MarkNotificationsRead`` moves it forward (``mark_read``), in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import case, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.identity.actors import Actor
from engine.kernel.errors import InvalidInput
from engine.kernel.models import NotificationRead
from engine.kernel.queries import MAX_PAGE_SIZE

MAX_NOTIFICATIONS = 500
"""The newest this many of each source, and of them all, make a member's list: older ones drop off its end."""


@dataclass(frozen=True)
class Notification:
    """One thing that happened for a member: its kind (``vote_opened``, …), a title and a summary, when, the instance, the ids."""

    kind: str
    title: str
    summary: str
    at: datetime
    instance_id: str
    refs: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """A stable name for it (its kind and the ids it names), the same in every list it shows in."""
        return ":".join([self.kind, self.instance_id, *(f"{k}={v}" for k, v in sorted(self.refs.items()) if k.endswith("id"))])


@dataclass(frozen=True)
class Entry:
    """A notification as its member sees it in their list: with its key and whether it is new to them."""

    kind: str
    title: str
    summary: str
    at: datetime
    instance_id: str
    refs: dict[str, Any]
    key: str
    unread: bool

    @classmethod
    def of(cls, notification: Notification, marker: datetime | None) -> Entry:
        n = notification
        return cls(n.kind, n.title, n.summary, n.at, n.instance_id, n.refs, n.key, _unread(n, marker))


@dataclass(frozen=True)
class NotificationPage:
    items: list[Entry]
    total: int
    page: int
    page_size: int
    unread: int
    read_until: datetime | None


Source = Callable[[Session, Actor, int], list[Notification]]
SOURCES: dict[str, Source] = {}


def notification_source(name: str) -> Callable[[Source], Source]:
    """Register the decorated function as the notification source ``name``."""
    def register(source: Source) -> Source:
        SOURCES[name] = source
        return source
    return register


def gathered(session: Session, actor: Actor) -> list[Notification]:
    """Every source's newest notifications for the caller, newest first (then by kind and instance), at most ``MAX_NOTIFICATIONS``."""
    found = [item for source in SOURCES.values() for item in source(session, actor, MAX_NOTIFICATIONS)]
    found.sort(key=lambda n: (-n.at.timestamp(), n.kind, n.instance_id, n.key))
    return found[:MAX_NOTIFICATIONS]


def read_until(session: Session, actor: Actor) -> datetime | None:
    """The caller's read marker: every notification up to it is read (None: none is)."""
    return session.scalar(select(NotificationRead.read_until).where(
        NotificationRead.member_id == actor.member_id, NotificationRead.community_id == actor.community_id))


def _unread(notification: Notification, marker: datetime | None) -> bool:
    return marker is None or notification.at > marker


def notifications(session: Session, actor: Actor, page: int = 1, page_size: int = 20) -> NotificationPage:
    """One page of the caller's notifications, newest first, each saying whether it is unread, with the unread count."""
    page_size, page = max(1, min(page_size, MAX_PAGE_SIZE)), max(1, page)
    found, marker = gathered(session, actor), read_until(session, actor)
    shown = found[(page - 1) * page_size:page * page_size]
    return NotificationPage([Entry.of(n, marker) for n in shown], len(found), page, page_size,
                            sum(_unread(n, marker) for n in found), marker)


def unread_count(session: Session, actor: Actor) -> int:
    """How many of the caller's notifications are unread (a badge's number)."""
    marker = read_until(session, actor)
    return sum(_unread(n, marker) for n in gathered(session, actor))


def mark_read(session: Session, actor: Actor, now: datetime, until: datetime | None = None) -> datetime:
    """Move the caller's read marker to ``until`` (now when None or later than now), never back; the marker it holds after.

    One statement (an upsert keeping the later moment), so two concurrent marks leave the later one, never an error."""
    if until is not None and until.tzinfo is None:
        raise InvalidInput("until must carry a time zone", errors=[{"field": "until", "message": "a time zone is needed"}])
    moment = now if until is None or until > now else until
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(NotificationRead).values(
        member_id=actor.member_id, community_id=actor.community_id, read_until=moment, updated_at=now)
    table = NotificationRead.__table__
    session.execute(statement.on_conflict_do_update(
        index_elements=[table.c.member_id],
        set_={"read_until": case((statement.excluded.read_until > table.c.read_until, statement.excluded.read_until),
                                 else_=table.c.read_until),
              "updated_at": statement.excluded.updated_at},
    ))
    marker = read_until(session, actor)
    assert marker is not None
    return marker


__all__ = ["Entry", "MAX_NOTIFICATIONS", "Notification", "NotificationPage", "SOURCES", "gathered", "mark_read",
           "notification_source", "notifications", "read_until", "unread_count"]
