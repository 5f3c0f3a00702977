"""Identity's command handlers: communities, members, tokens, web sign-in codes and sessions."""

from __future__ import annotations

from typing import Any

from typing import NamedTuple

from engine.identity import members, register, register_import, sign_in
from engine.identity.actors import Actor
from engine.identity.commands import (
    AddMember, CreateCommunity, ImportMembers, IssueSignInCode, IssueSignInCodes, IssueToken, RevokeSessions,
    SeedCommunity, SignIn, SignOut, TouchWebSession,
)
from engine.identity.models import Community, Member
from engine.kernel.bus import handles
from engine.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied
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


class Seeded(NamedTuple):
    """A member of a seeded community, their new API token, and their new web sign-in code (if asked for)."""

    member: Member
    token: str
    sign_in_code: str | None


@handles(SeedCommunity, needs_actor=False)
def seed_community(uow: UnitOfWork, actor: Any, cmd: SeedCommunity) -> list[Seeded]:
    """Only a caller without an actor (the operator's CLI, tests) may seed: no API request reaches it."""
    if actor is not None:
        raise PermissionDenied("only the platform operator, from the command line, seeds a community")
    community = members.community_by_slug(uow.session, cmd.slug)
    if community is None:
        community = members.create_community(uow.session, cmd.slug, cmd.name, cmd.timezone, uow.now)
        for name, roles in cmd.members:
            members.add_member(uow.session, community, name, list(roles), uow.now)
    secret = uow.context.secret(sign_in.SECRET_PURPOSE) if cmd.sign_in_codes else b""
    return [Seeded(member, members.issue_token(uow.session, member, cmd.label, uow.now),
                   sign_in.issue_code(uow.session, secret, member, None, uow.now) if cmd.sign_in_codes else None)
            for member in members.of_community(uow.session, community.id)]


@handles(IssueSignInCode)
def issue_sign_in_code(uow: UnitOfWork, actor: Actor, cmd: IssueSignInCode) -> str:
    """An admin issues a member of their community a sign-in code, returned once (grouped, e.g. ``7KQ2M-XW4DP``)."""
    actor.require("admin")
    member = members.get_member(uow.session, actor, cmd.member_id)
    return sign_in.issue_code(uow.session, uow.context.secret(sign_in.SECRET_PURPOSE), member, actor.member_id, uow.now)


@handles(SignIn, needs_actor=False)
def sign_in_with_code(uow: UnitOfWork, actor: Any, cmd: SignIn) -> sign_in.OpenedSession:
    return sign_in.redeem(uow.session, uow.context.secret(sign_in.SECRET_PURPOSE), cmd.code, uow.now)


@handles(SignOut, needs_actor=False)
def sign_out(uow: UnitOfWork, actor: Any, cmd: SignOut) -> bool:
    return sign_in.end(uow.session, cmd.token, uow.now)


@handles(TouchWebSession, needs_actor=False)
def touch_web_session(uow: UnitOfWork, actor: Any, cmd: TouchWebSession) -> None:
    sign_in.touch(uow.session, cmd.token, uow.now)


@handles(RevokeSessions)
def revoke_sessions(uow: UnitOfWork, actor: Actor, cmd: RevokeSessions) -> int:
    """A member ends their own sessions; an admin any member's of the community. How many were live."""
    if cmd.member_id != actor.member_id:
        actor.require("admin")
    member = members.get_member(uow.session, actor, cmd.member_id)
    return sign_in.revoke_all(uow.session, member.id, uow.now)


class Imported(NamedTuple):
    """What ``ImportMembers`` read (the preview: rows and errors) and the members it added (none for a dry run)."""

    preview: register_import.Preview
    members: list[Member]


@handles(ImportMembers)
def import_members(uow: UnitOfWork, actor: Actor, cmd: ImportMembers) -> Imported:
    """Every row of the register file is checked again here, against the community's members as they are now; one
    bad row refuses the whole file (``InvalidInput`` listing every row's errors), else every member is added."""
    community = uow.session.get(Community, actor.community_id)
    if community is None:
        raise NotFound("community not found")
    actor.require("admin")
    if cmd.sha256 is not None and cmd.sha256 != register_import.digest(cmd.data):
        raise Conflict("this file is not the one previewed: preview it again",
                       errors=[{"field": "csv", "message": "the file changed since its preview"}])
    existing = [register_import.member_key(m.name, m.household) for m in members.of_community(uow.session, community.id)]
    preview = register_import.checked_against(register_import.read(cmd.data), existing)
    if cmd.dry_run:
        return Imported(preview, [])
    if preview.errors:
        raise InvalidInput(f"{len(preview.lines_with_errors)} lines of the file have errors: no member was imported",
                           errors=preview.errors, sha256=preview.sha256)
    added = [members.add_member(uow.session, community, row.name, list(row.roles), uow.now, row.household, row.area)
             for row in preview.rows]
    return Imported(preview, added)


MAX_LETTERS = 500
"""Sign-in codes issued at most by one ``IssueSignInCodes`` (one printed letter each)."""


class Letter(NamedTuple):
    member: Member
    code: str


@handles(IssueSignInCodes)
def issue_sign_in_codes(uow: UnitOfWork, actor: Actor, cmd: IssueSignInCodes) -> list[Letter]:
    actor.require("admin")
    if bool(cmd.member_ids) == cmd.without_unused_code:
        raise InvalidInput("choose the members, or every member without an unused code",
                           errors=[{"field": "member_ids", "message": "choose at least one member"}])
    if cmd.without_unused_code:
        chosen = register.without_unused_code(uow.session, actor.community_id, uow.now)
    else:
        chosen = [members.get_member(uow.session, actor, member_id) for member_id in dict.fromkeys(cmd.member_ids)]
    if not chosen:
        raise InvalidInput("every member has an unused sign-in code already: choose the members to print letters for",
                           errors=[{"field": "member_ids", "message": "no member without an unused code"}])
    if len(chosen) > MAX_LETTERS:
        raise InvalidInput(f"at most {MAX_LETTERS} letters at once",
                           errors=[{"field": "member_ids", "message": f"at most {MAX_LETTERS} members"}])
    secret = uow.context.secret(sign_in.SECRET_PURPOSE)
    return [Letter(member, sign_in.issue_code(uow.session, secret, member, actor.member_id, uow.now)) for member in chosen]
