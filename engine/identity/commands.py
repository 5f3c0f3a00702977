"""Identity's commands: creating a community, adding a member, issuing a token, seeding a community, web sign-in codes and
sessions (handled in ``handlers``); recorded in their own rows."""

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
    roles) unless it exists, then issue every member a token labelled ``label`` and, with ``sign_in_codes``, a
    web sign-in code (the CLI's demo, tests)."""
    slug: str
    name: str
    members: tuple[tuple[str, tuple[str, ...]], ...]
    label: str
    timezone: str = "Asia/Shanghai"
    sign_in_codes: bool = False


@dataclass(frozen=True)
class IssueSignInCode:
    """An admin issues a member a one-time web sign-in code (returned once, in clear); it replaces any unused one."""
    member_id: int


@dataclass(frozen=True)
class SignIn:
    """Exchange a sign-in code for a web session (no actor: the code is the credential); returns the session token once."""
    code: str


@dataclass(frozen=True)
class SignOut:
    """End the web session whose token this is (no actor: the token is the credential)."""
    token: str


@dataclass(frozen=True)
class TouchWebSession:
    """The session was used: note when, and keep it alive for another ``SESSION_LIFETIME`` (no actor: the token)."""
    token: str


@dataclass(frozen=True)
class RevokeSessions:
    """End every web session of a member (an admin for any member of the community; a member for their own)."""
    member_id: int


@dataclass(frozen=True)
class ImportMembers:
    """An admin adds the members of a register file (CSV, ``engine.identity.register_import``) in one transaction: all
    of its rows, or none when any row has an error. ``dry_run`` reads and checks the file and writes nothing (the
    preview); ``sha256``, when given, must be the file's (the one previewed), else nothing is imported."""
    data: bytes
    dry_run: bool = False
    sha256: str | None = None


@dataclass(frozen=True)
class IssueSignInCodes:
    """An admin issues fresh sign-in codes, in one transaction, to the members ``member_ids`` or, with
    ``without_unused_code``, to every member of the community who has no unused one (the letters to print); each
    replaces the member's unused code. Returned once, in clear."""
    member_ids: tuple[int, ...] = ()
    without_unused_code: bool = False
