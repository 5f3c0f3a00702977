"""The caller's community and its members (admins add members and issue their tokens)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request

from api.auth import actor
from api.views import Blueprint, engine, reader
from api.identity.schemas import (
    CommunitySchema, ImportQuery, ImportResultSchema, LettersRequestSchema, MemberSchema, MemberWithTokenSchema,
    NewMemberSchema, NewTokenSchema, RegisterEntrySchema, RegisterQuery, RevokedSessionsSchema, SignInCodeSchema,
    TokenSchema,
)
from api.schemas import PageQuery, page_of
from engine.identity import letters, register
from engine.identity.commands import (
    AddMember, ImportMembers, IssueSignInCode, IssueSignInCodes, IssueToken, RevokeSessions,
)
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


# ---- the community register (admins): import, sign-in codes and letters, sessions ------------------------------

CSV_BODY = {"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}}


@blp.route("/<int:community_id>/register")
@blp.arguments(RegisterQuery, location="query")
@blp.response(200, page_of(RegisterEntrySchema, "RegisterPage"))
def get_register(args: dict[str, Any], community_id: int) -> Any:
    """The register (admins only): members with whether each has an unused sign-in code and their live web sessions."""
    _own(community_id)
    found = register.entries(reader(), actor(), engine().clock.now(), args["q"])
    start = (args["page"] - 1) * args["page_size"]
    items = [{**{name: getattr(e.member, name) for name in MemberSchema().fields}, "has_unused_code": e.has_unused_code,
              "unused_code_expires_at": e.unused_code_expires_at, "live_sessions": e.live_sessions}
             for e in found[start:start + args["page_size"]]]
    return {"items": items, "total": len(found), "page": args["page"], "page_size": args["page_size"]}


@blp.route("/<int:community_id>/members/import", methods=["POST"])
@blp.arguments(ImportQuery, location="query")
@blp.doc(**CSV_BODY)
@blp.response(201, ImportResultSchema)
@blp.alt_response(200, schema=ImportResultSchema, description="The dry run's preview: nothing was written.")
@blp.alt_response(409, response="CONFLICT")
def import_members(args: dict[str, Any], community_id: int) -> Any:
    """Import members from a register file (CSV: name, roles, household, area; UTF-8, UTF-8 with BOM, UTF-16 or GBK;
    at most 256 KiB and 2,000 members): all rows in one transaction, or none when any row has an error (422 listing
    every row's errors with its line). ``dry_run`` previews; ``sha256`` imports only the file previewed (admins only)."""
    _own(community_id)
    done = engine().execute(ImportMembers(request.get_data(), dry_run=args["dry_run"], sha256=args["sha256"]), actor())
    body = {"dry_run": args["dry_run"], "encoding": done.preview.encoding, "sha256": done.preview.sha256,
            "rows": done.preview.rows, "errors": done.preview.errors, "imported": len(done.members),
            "member_ids": [m.id for m in done.members]}
    return (body, 200) if args["dry_run"] else body


@blp.route("/<int:community_id>/members/<int:member_id>/sign-in-code", methods=["POST"])
@blp.response(201, SignInCodeSchema)
def issue_sign_in_code(community_id: int, member_id: int) -> Any:
    """Issue a member a one-time web sign-in code, shown once; it replaces their unused one (admins only)."""
    _own(community_id)
    return {"member_id": member_id, "code": engine().execute(IssueSignInCode(member_id), actor())}


@blp.route("/<int:community_id>/members/<int:member_id>/sessions/revoke", methods=["POST"])
@blp.response(200, RevokedSessionsSchema)
def revoke_sessions(community_id: int, member_id: int) -> Any:
    """End every web session of a member (an admin for any member; a member for their own)."""
    _own(community_id)
    return {"member_id": member_id, "revoked": engine().execute(RevokeSessions(member_id), actor())}


@blp.route("/<int:community_id>/sign-in-letters", methods=["POST"])
@blp.arguments(LettersRequestSchema)
@blp.response(200, content_type="application/pdf")
def sign_in_letters(args: dict[str, Any], community_id: int) -> Response:
    """Issue fresh sign-in codes to ``member_ids`` (or every member without an unused code) in one transaction and
    return the letters to print: a PDF, one A4 page per member (admins only; the codes appear nowhere else)."""
    _own(community_id)
    issued = engine().execute(IssueSignInCodes(tuple(args["member_ids"]), args["without_unused_code"]), actor())
    community = queries.community(reader(), actor())
    address = str(current_app.config.get("YISHI_PUBLIC_URL") or request.host_url).rstrip("/")
    pdf = letters.render(community.name, address, [letters.LetterPage(l.member.name, l.member.household, l.code) for l in issued])
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": 'attachment; filename="sign-in-letters.pdf"', "Cache-Control": "no-store"})
