"""Small builders shared by tests: a community with one member per role, and their actors."""

from __future__ import annotations

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
    with UnitOfWork(engine.db.sessions, engine.clock) as uow:
        row = identity.create_community(uow.session, slug, slug.title(), timezone, uow.now)
        community = Community(row.id, slug)
        for name, roles in PEOPLE.items():
            member = identity.add_member(uow.session, row, name, roles, uow.now)
            community.actors[name] = identity.actor_for(member)
            community.tokens[name] = identity.issue_token(uow.session, member, "test", uow.now)
        uow.commit()
    return community
