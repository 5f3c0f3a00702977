"""Identity's commands: creating a community, adding a member, issuing a token (handled in ``handlers``); recorded in their own rows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CreateCommunity:
    slug: str
    name: str
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True)
class AddMember:
    name: str
    roles: list[str]
    household: str | None = None
    area: str | None = None


@dataclass(frozen=True)
class IssueToken:
    member_id: int
    label: str = ""
