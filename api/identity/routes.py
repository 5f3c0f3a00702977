"""The caller's community and its members (admins add members and issue their tokens)."""

from __future__ import annotations

from typing import Any


from api.auth import actor
from api.views import Blueprint, engine, reader
from api.identity.schemas import (
    CommunitySchema, MemberSchema, MemberWithTokenSchema, NewMemberSchema, NewTokenSchema, TokenSchema,
)
from api.schemas import PageQuery, page_of
from engine.identity.commands import AddMember, IssueToken
from engine.kernel import queries
from engine.identity import members as identity_members
from engine.kernel.errors import NotFound

blp = Blueprint("communities", __name__, url_prefix="/api/communities", description="Communities and their members")


def _own(community_id: int) -> None:
    if community_id != actor().community_id:
        raise NotFound("community not found")


@blp.route("")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(CommunitySchema, "CommunityPage"))
def list_communities(args: dict[str, Any]) -> dict[str, Any]:
    """The communities the caller belongs to (a token belongs to one community)."""
    session = reader()
    return {"items": [queries.community(session, actor())], "total": 1, "page": 1, "page_size": args["page_size"]}


@blp.route("/<int:community_id>")
@blp.response(200, CommunitySchema)
def get_community(community_id: int) -> Any:
    _own(community_id)
    session = reader()
    return queries.community(session, actor())


@blp.route("/<int:community_id>/members")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(MemberSchema, "MemberPage"))
def list_members(args: dict[str, Any], community_id: int) -> Any:
    _own(community_id)
    session = reader()
    return queries.members(session, actor(), args["page"], args["page_size"])


@blp.route("/<int:community_id>/members", methods=["POST"])
@blp.arguments(NewMemberSchema)
@blp.response(201, MemberWithTokenSchema)
def add_member(args: dict[str, Any], community_id: int) -> Any:
    """Add a member (admins only); the response carries their first API token, shown once."""
    _own(community_id)
    member = engine().execute(AddMember(args["name"], args["roles"], args["household"], args["area"]), actor())
    token = engine().execute(IssueToken(member.id, "initial"), actor())
    # The member's attributes as they are (not dumped: the response schema dumps them, once).
    return {**{name: getattr(member, name) for name in MemberSchema().fields}, "token": token}


@blp.route("/<int:community_id>/members/<int:member_id>/tokens", methods=["POST"])
@blp.arguments(NewTokenSchema)
@blp.response(201, TokenSchema)
def issue_token(args: dict[str, Any], community_id: int, member_id: int) -> Any:
    _own(community_id)
    return {"member_id": member_id, "token": engine().execute(IssueToken(member_id, args["label"]), actor())}


@blp.route("/<int:community_id>/members/<int:member_id>")
@blp.response(200, MemberSchema)
def get_member(community_id: int, member_id: int) -> Any:
    _own(community_id)
    session = reader()
    return identity_members.get_member(session, actor(), member_id)
