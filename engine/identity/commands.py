"""Identity's commands: creating a community, adding a member, issuing a token, seeding a community (handled in ``handlers``); recorded in their own rows."""

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


@dataclass(frozen=True)
class SeedCommunity:
    """The platform operator's set-up of a community, in one transaction: create it with ``members`` (name,
    roles) unless it exists, then issue every member a token labelled ``label`` (the CLI's demo, tests)."""
    slug: str
    name: str
    members: tuple[tuple[str, tuple[str, ...]], ...]
    label: str
    timezone: str = "Asia/Shanghai"
