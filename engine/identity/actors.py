"""Communities, members, roles and API tokens: who may do what, and where.

A member belongs to one community and holds roles there. An API token authenticates one member;
only its sha256 is stored. Everything a member does is scoped to their community: the engine
answers "not found" for another community's things, so their existence does not leak.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Row, bindparam, select
from sqlalchemy.orm import Session

from engine.identity.models import ApiToken, Member
from engine.kernel.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated

TOKEN_PREFIX = "ys_"


class _InCommunity(Protocol):
    community_id: int


Scoped = TypeVar("Scoped", bound=_InCommunity)


@dataclass(frozen=True)
class Actor:
    """The authenticated caller of a command or query."""

    member_id: int
    community_id: int
    name: str
    roles: frozenset[str]

    def has(self, role: str) -> bool:
        return role in self.roles

    def require(self, *roles: str) -> None:
        if not self.roles.intersection(roles):
            raise PermissionDenied(f"this needs the role {' or '.join(roles)}", required=list(roles))

    def own(self, row: Scoped | None, what: str) -> Scoped:
        """The row if it belongs to the caller's community; another community's is simply not
        found, so its existence does not leak."""
        if row is None or row.community_id != self.community_id:
            raise NotFound(f"{what} not found")
        return row


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_TOKEN_HOLDER = (
    select(Member.id, Member.community_id, Member.name, Member.roles, ApiToken.revoked_at)
    .join(ApiToken, ApiToken.member_id == Member.id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)
"""Built once: every request runs it, and building the statement would cost more than running it."""


def authenticate(session: Session | Connection, token: str) -> Actor:
    """The member a token authenticates: one indexed query per request, and no ORM objects."""
    row = session.execute(_TOKEN_HOLDER, {"token_hash": hash_token(token)}).first()
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("the API token is unknown or revoked")
    return Actor(row.id, row.community_id, row.name, frozenset(row.roles))


TOKENS_HOLDERS = (
    select(ApiToken.token_hash, Member.id.label("member_id"), Member.community_id, Member.name, Member.roles, Member.household)
    .join(ApiToken, ApiToken.member_id == Member.id)
    .where(ApiToken.token_hash.in_(bindparam("token_hashes", expanding=True)), ApiToken.revoked_at.is_(None))
)
"""The members (with their household) that valid tokens among ``token_hashes`` authenticate, one
row each: many requests authenticated in one query (``votes.cast_together`` joins it with the
votes they cast in). Unknown and revoked tokens have no row; ``authenticate`` says why."""


def holder(row: Row[Any]) -> Actor:
    """The actor of a ``TOKENS_HOLDERS`` row."""
    return Actor(row.member_id, row.community_id, row.name, frozenset(row.roles))


def actor_for(member: Member) -> Actor:
    return Actor(member.id, member.community_id, member.name, frozenset(member.roles))


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown time zone {name!r}", errors=[{"field": "timezone", "message": "unknown time zone"}]) from exc
