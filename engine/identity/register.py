"""The community register as its admins read it: members with their roles, household and area, whether each has an
unused sign-in code and how many live web sessions (read-queries; the API's ``GET /api/communities/<id>/register`` and
the register pages use them). Only admins read it: it says who has not yet signed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.identity.actors import Actor
from engine.identity.models import Member, SignInCode, WebSession
from engine.identity.members import get_member

MAX_SEARCH = 100


@dataclass(frozen=True)
class Entry:
    """A member of the register, with the state of their sign-in."""

    member: Member
    unused_code_expires_at: datetime | None
    """When their unused sign-in code expires; None when they have none (never issued, used, replaced or expired)."""
    live_sessions: int

    @property
    def has_unused_code(self) -> bool:
        return self.unused_code_expires_at is not None


def _unused_codes(now: datetime):  # type: ignore[no-untyped-def]
    return (select(SignInCode.member_id, func.max(SignInCode.expires_at).label("expires_at"))
            .where(SignInCode.used_at.is_(None), SignInCode.revoked_at.is_(None), SignInCode.expires_at > now)
            .group_by(SignInCode.member_id).subquery())


def _live_sessions(now: datetime):  # type: ignore[no-untyped-def]
    return (select(WebSession.member_id, func.count().label("live"))
            .where(WebSession.revoked_at.is_(None), WebSession.expires_at > now)
            .group_by(WebSession.member_id).subquery())


def entries(session: Session, actor: Actor, now: datetime, search: str = "", member_ids: list[int] | None = None) -> list[Entry]:
    """The register of the caller's community (admins only), in the order members were added; ``search`` keeps the
    members whose name or household contains it (any case)."""
    actor.require("admin")
    codes, live = _unused_codes(now), _live_sessions(now)
    query = (select(Member, codes.c.expires_at, live.c.live)
             .outerjoin(codes, codes.c.member_id == Member.id).outerjoin(live, live.c.member_id == Member.id)
             .where(Member.community_id == actor.community_id).order_by(Member.id))
    words = search.strip()[:MAX_SEARCH]
    if words:
        pattern = "%" + words.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(func.lower(Member.name).like(pattern, escape="\\"),
                                func.lower(func.coalesce(Member.household, "")).like(pattern, escape="\\")))
    if member_ids is not None:
        query = query.where(Member.id.in_(member_ids))
    return [Entry(member, expires, live or 0) for member, expires, live in session.execute(query)]


def entry(session: Session, actor: Actor, now: datetime, member_id: int) -> Entry:
    """One member of the register (admins only; another community's member is not found)."""
    actor.require("admin")
    get_member(session, actor, member_id)
    (found,) = entries(session, actor, now, member_ids=[member_id])
    return found


def without_unused_code(session: Session, community_id: int, now: datetime) -> list[Member]:
    """The community's members who have no unused sign-in code (the letters to print), in the order they were added."""
    codes = _unused_codes(now)
    return list(session.scalars(select(Member).outerjoin(codes, codes.c.member_id == Member.id)
                                .where(Member.community_id == community_id, codes.c.member_id.is_(None)).order_by(Member.id)))
