"""Sign-in without passwords: one-time codes printed for members, exchanged for web sessions.

A committee (an admin) issues a member a **sign-in code**: ``CODE_LENGTH`` characters of Crockford's base32
(no I, L, O or U, so nothing reads as another letter), shown grouped ``XXXXX-XXXXX``, about 50 bits. Only a keyed
hash is stored (HMAC-SHA256 under a secret derived from the deployment's audit key, outside the database), so a
copy of the database alone does not let anyone search the codes offline. A code works once, until
``CODE_LIFETIME`` after it was issued, and issuing a member a new code revokes their unused ones (the last
letter printed is the one that works).

Redeeming a code opens a **web session**: a random token (the cookie's value; only its sha256 is stored),
valid until ``SESSION_LIFETIME`` after it was last used, revocable one by one (sign out) or all of a member's
at once. A code is redeemed by one conditional ``UPDATE … WHERE used_at IS NULL``: of concurrent redemptions
of one code exactly one changes the row, on SQLite (writers take turns) as on PostgreSQL (the second waits
for the first's row lock, then finds the code used). Every refusal — unknown, used, revoked or expired — is the
same one, so a guess learns nothing about other codes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

from engine.identity.actors import Actor
from engine.identity.models import Member, SignInCode, WebSession
from engine.kernel.errors import Unauthenticated

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base32: digits and letters without I, L, O and U."""
CODE_LENGTH = 10
GROUP = 5
CODE_LIFETIME = timedelta(days=30)
SESSION_LIFETIME = timedelta(days=30)
SEEN_INTERVAL = timedelta(minutes=5)
"""A session's last use is written at most this often (``TouchWebSession``), not on every page."""
SECRET_PURPOSE = "web sign-in codes"
SESSION_PREFIX = "yw_"
REFUSED = "this sign-in code is unknown, already used or expired: ask your committee for a new one"
_READS_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
"""What Crockford's decoding reads a mistyped letter as."""


@dataclass(frozen=True)
class OpenedSession:
    """A session just opened: its token, shown once (the cookie's value), and when it ends unless used."""

    token: str
    member_id: int
    expires_at: datetime


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def grouped(code: str) -> str:
    """``ABCDE-FGHJK``: how a code is printed and shown."""
    return "-".join(code[i:i + GROUP] for i in range(0, len(code), GROUP))


def normalized(typed: str) -> str | None:
    """The code a person typed, as issued (any case, spaces and dashes ignored, O read as 0, I and L as 1); None
    when it cannot be a code at all."""
    code = "".join(typed.split()).replace("-", "").upper().translate(_READS_AS)
    return code if len(code) == CODE_LENGTH and all(c in ALPHABET for c in code) else None


def code_hash(secret: bytes, code: str) -> str:
    return hmac.new(secret, code.encode("ascii"), hashlib.sha256).hexdigest()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_code(session: Session, secret: bytes, member: Member, issued_by: int | None, now: datetime) -> str:
    """A new code for ``member``, returned grouped and in clear (the only time it is visible); their unused codes
    are revoked."""
    session.execute(update(SignInCode)
                    .where(SignInCode.member_id == member.id, SignInCode.used_at.is_(None), SignInCode.revoked_at.is_(None))
                    .values(revoked_at=now))
    code = new_code()
    session.add(SignInCode(member_id=member.id, code_hash=code_hash(secret, code), issued_by=issued_by, created_at=now,
                           expires_at=now + CODE_LIFETIME))
    session.flush()
    return grouped(code)


def redeem(session: Session, secret: bytes, typed: str, now: datetime) -> OpenedSession:
    """Use the code once and open a session for its member; ``Unauthenticated`` (always the same) otherwise."""
    code = normalized(typed)
    if code is None:
        raise Unauthenticated(REFUSED)
    digest = code_hash(secret, code)
    used = session.execute(
        update(SignInCode)
        .where(SignInCode.code_hash == digest, SignInCode.used_at.is_(None), SignInCode.revoked_at.is_(None),
               SignInCode.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False))
    if used.rowcount != 1:
        raise Unauthenticated(REFUSED)
    row = session.execute(select(SignInCode.id, SignInCode.member_id).where(SignInCode.code_hash == digest)).one()
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    expires = now + SESSION_LIFETIME
    session.add(WebSession(member_id=row.member_id, token_hash=token_hash(token), sign_in_code_id=row.id, created_at=now,
                           last_seen_at=now, expires_at=expires))
    session.flush()
    return OpenedSession(token, row.member_id, expires)


def end(session: Session, token: str, now: datetime) -> bool:
    """Revoke the session of ``token``; whether there was a live one."""
    ended = session.execute(update(WebSession)
                            .where(WebSession.token_hash == token_hash(token), WebSession.revoked_at.is_(None))
                            .values(revoked_at=now).execution_options(synchronize_session=False))
    return ended.rowcount == 1


def touch(session: Session, token: str, now: datetime) -> None:
    session.execute(update(WebSession)
                    .where(WebSession.token_hash == token_hash(token), WebSession.revoked_at.is_(None),
                           WebSession.expires_at > now)
                    .values(last_seen_at=now, expires_at=now + SESSION_LIFETIME)
                    .execution_options(synchronize_session=False))


def revoke_all(session: Session, member_id: int, now: datetime) -> int:
    """Revoke every live session of a member; how many there were."""
    ended = session.execute(update(WebSession)
                            .where(WebSession.member_id == member_id, WebSession.revoked_at.is_(None))
                            .values(revoked_at=now).execution_options(synchronize_session=False))
    return ended.rowcount


@dataclass(frozen=True)
class SignedIn:
    """The member a session token authenticates, and when the session was last noted as used."""

    actor: Actor
    last_seen_at: datetime


_SESSION_HOLDER = (
    select(Member.id, Member.community_id, Member.name, Member.roles, WebSession.revoked_at, WebSession.expires_at,
           WebSession.last_seen_at)
    .join(WebSession, WebSession.member_id == Member.id)
    .where(WebSession.token_hash == bindparam("token_hash"))
)


def authenticate(connection: Session | Connection, token: str, now: datetime) -> SignedIn:
    """The member a live session token authenticates; ``Unauthenticated`` for an unknown, revoked or expired one."""
    row = connection.execute(_SESSION_HOLDER, {"token_hash": token_hash(token)}).first()
    if row is None or row.revoked_at is not None or _aware(row.expires_at) <= now:
        raise Unauthenticated("this session has ended: sign in again")
    return SignedIn(Actor(row.id, row.community_id, row.name, frozenset(row.roles)), _aware(row.last_seen_at))


def _aware(moment: datetime) -> datetime:
    """A moment as read (aware already through ``UTCDateTime``; naive would be UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
