"""Communities, their members and roles, and API tokens: creating them (the platform's and a community admin's commands)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.identity.actors import TOKEN_PREFIX, Actor, hash_token, zone
from engine.identity.models import ApiToken, Community, Member
from engine.kernel.errors import InvalidInput

ROLES = ("committee", "resident", "owner", "auditor", "provider", "admin", "street_office")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def community_by_slug(session: Session, slug: str) -> Community | None:
    return session.scalar(select(Community).where(Community.slug == slug))


def community_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Community.id).order_by(Community.id)))


def of_community(session: Session, community_id: int) -> list[Member]:
    """A community's members, in the order they were added."""
    return list(session.scalars(select(Member).where(Member.community_id == community_id).order_by(Member.id)))


def create_community(session: Session, slug: str, name: str, timezone: str, now: datetime) -> Community:
    if not _SLUG.match(slug):
        raise InvalidInput("a community slug is 2–63 lowercase letters, digits or dashes",
                           errors=[{"field": "slug", "message": "invalid slug"}])
    zone(timezone)
    if community_by_slug(session, slug) is not None:
        raise InvalidInput(f"the community {slug!r} exists already", errors=[{"field": "slug", "message": "taken"}])
    community = Community(slug=slug, name=name, timezone=timezone, created_at=now)
    session.add(community)
    session.flush()
    return community


def add_member(
    session: Session, community: Community, name: str, roles: list[str], now: datetime,
    household: str | None = None, area: str | None = None,
) -> Member:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown or not roles:
        raise InvalidInput(
            f"roles must be some of {', '.join(ROLES)}",
            errors=[{"field": "roles", "message": f"unknown roles: {', '.join(unknown)}" if unknown else "at least one role"}],
        )
    if area is not None:
        _check_area(area)
    member = Member(community_id=community.id, name=name, roles=sorted(set(roles)), household=household, area=area,
                    created_at=now)
    session.add(member)
    session.flush()
    return member


def issue_token(session: Session, member: Member, label: str, now: datetime) -> str:
    """Create a token and return it in clear: the only time it is ever visible."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(member_id=member.id, token_hash=hash_token(token), label=label, created_at=now))
    session.flush()
    return token


def get_member(session: Session, actor: Actor, member_id: int) -> Member:
    return actor.own(session.get(Member, member_id), "member")


def _check_area(area: str) -> None:
    """An owner's area is a positive decimal of m², kept as text so that no float ever rounds it."""
    try:
        valid = Decimal(area) > 0 and Decimal(area).as_tuple().exponent >= -4
    except InvalidOperation:
        valid = False
    if not valid:
        raise InvalidInput("area must be a positive decimal number of m², e.g. \"86.35\"",
                           errors=[{"field": "area", "message": "not a positive decimal"}])
