"""Tables of identity: communities, members (with their roles, household and area) and API tokens (only their sha256 is stored)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.kernel.models import Base


class Community(Base):
    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    created_at: Mapped[datetime]


class Member(Base):
    """A person acting in one community, with the roles they hold there."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[Any]]
    household: Mapped[str | None] = mapped_column(String(100))
    """The community register's household (a flat, e.g. "3-402"), for one-ballot-per-household votes."""
    area: Mapped[str | None] = mapped_column(String(20))
    """An owner's floor area in m², as a decimal string: the weight in owners' assemblies."""
    created_at: Mapped[datetime]

    community: Mapped[Community] = relationship()


class ApiToken(Base):
    """An API token; only its sha256 is stored, so a database leak reveals no usable token."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    member: Mapped[Member] = relationship()


class SignInCode(Base):
    """A one-time code a member exchanges for a web session (printed on a letter); only its keyed hash is stored."""

    __tablename__ = "sign_in_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    """The admin who issued it; None for the platform operator's (the demo's, a seeded community's)."""
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    """Set when a newer code is issued to the same member: the last letter printed is the one that works."""


class WebSession(Base):
    """A signed-in browser: only the sha256 of its session token (the cookie's value) is stored."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sign_in_code_id: Mapped[int | None] = mapped_column(ForeignKey("sign_in_codes.id"))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
