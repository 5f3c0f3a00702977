"""Identity's command handlers: communities, members and tokens."""

from __future__ import annotations

from typing import Any

from engine.identity import members
from engine.identity.actors import Actor
from engine.identity.commands import AddMember, CreateCommunity, IssueToken, SeedCommunity
from engine.identity.models import Community, Member
from engine.kernel.bus import handles
from engine.kernel.errors import NotFound, PermissionDenied
from engine.kernel.unit_of_work import UnitOfWork


@handles(CreateCommunity, needs_actor=False)
def create_community(uow: UnitOfWork, actor: Any, cmd: CreateCommunity) -> Community:
    return members.create_community(uow.session, cmd.slug, cmd.name, cmd.timezone, uow.now)


@handles(AddMember)
def add_member(uow: UnitOfWork, actor: Actor, cmd: AddMember) -> Member:
    community = uow.session.get(Community, actor.community_id)
    if community is None:
        raise NotFound("community not found")
    actor.require("admin")
    return members.add_member(uow.session, community, cmd.name, cmd.roles, uow.now, cmd.household, cmd.area)


@handles(IssueToken)
def issue_token(uow: UnitOfWork, actor: Actor, cmd: IssueToken) -> str:
    actor.require("admin")
    member = members.get_member(uow.session, actor, cmd.member_id)
    return members.issue_token(uow.session, member, cmd.label, uow.now)


@handles(SeedCommunity, needs_actor=False)
def seed_community(uow: UnitOfWork, actor: Any, cmd: SeedCommunity) -> list[tuple[Member, str]]:
    """Only a caller without an actor (the operator's CLI, tests) may seed: no API request reaches it."""
    if actor is not None:
        raise PermissionDenied("only the platform operator, from the command line, seeds a community")
    community = members.community_by_slug(uow.session, cmd.slug)
    if community is None:
        community = members.create_community(uow.session, cmd.slug, cmd.name, cmd.timezone, uow.now)
        for name, roles in cmd.members:
            members.add_member(uow.session, community, name, list(roles), uow.now)
    return [(member, members.issue_token(uow.session, member, cmd.label, uow.now))
            for member in members.of_community(uow.session, community.id)]
