"""Small builders shared by tests: a community with one member per role, and their actors."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from engine import identity
from engine.identity import Actor
from engine.service import Engine
from engine.unit_of_work import UnitOfWork

PEOPLE = {
    "chair": ["committee", "resident"],
    "clerk": ["committee"],
    "alice": ["resident"],
    "bob": ["resident"],
    "carol": ["resident"],
    "auditor": ["auditor"],
    "admin": ["admin"],
}


@dataclass
class Community:
    id: int
    slug: str
    actors: dict[str, Actor] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Actor:
        return self.actors[name]


def make_community(engine: Engine, slug: str, timezone: str = "Asia/Shanghai") -> Community:
    with UnitOfWork(engine.db, engine.clock) as uow:
        row = identity.create_community(uow.session, slug, slug.title(), timezone, uow.now)
        community = Community(row.id, slug)
        for name, roles in PEOPLE.items():
            member = identity.add_member(uow.session, row, name, roles, uow.now)
            community.actors[name] = identity.actor_for(member)
            community.tokens[name] = identity.issue_token(uow.session, member, "test", uow.now)
        uow.commit()
    return community


class Race:
    """Where two racing requests meet: each waits there until both have read what they go on to write.

    On SQLite that meeting cannot happen: units of work take turns (``engine.db.WriterLock``), so
    the second request reads only after the first has written. There the first only lingers a
    moment, so that the second is surely waiting for its turn.
    """

    def __init__(self, engine: Engine) -> None:
        self.serialized = engine.db.engine.dialect.name == "sqlite"
        self.barrier = threading.Barrier(1 if self.serialized else 2, timeout=10)

    def meet(self) -> None:
        self.barrier.wait()
        if self.serialized:
            time.sleep(0.1)

    @property
    def broken(self) -> bool:
        return self.barrier.broken
