"""Tables of votes: the vote, its frozen electorate, participations (who voted), ballots (what, kept apart from who) and replaced ballots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.audit.sealing.records import audited
from engine.kernel.models import Base


@audited("vote")
class Vote(Base):
    """One vote run by a vote process instance: its configuration, frozen electorate size and result."""

    __tablename__ = "votes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(20))
    options: Mapped[list[Any]]
    rule: Mapped[dict[str, Any]]
    secret: Mapped[bool]
    basis: Mapped[str] = mapped_column(String(20))
    weighted: Mapped[bool]
    close_when_all_voted: Mapped[bool]
    deadline: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10))
    eligible_heads: Mapped[int]
    eligible_weight: Mapped[str] = mapped_column(String(40))
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None]
    board_root: Mapped[str | None] = mapped_column(String(64))
    electorate_digest: Mapped[str | None] = mapped_column(String(64), info={"audit_omit_when_null": True})
    """The frozen electorate's hash (``engine.voting.counting.electorate.roll_digest``), bound to the history with
    this record when the vote opens. None for votes opened before it existed, whose records were bound
    without it: their fingerprints leave it out."""
    secrecy: Mapped[str | None] = mapped_column(String(10), info={"audit_omit_when_null": True})
    """``"encrypted"`` for a vote whose ballots are encrypted on the voters' devices (docs/ballot-encryption.md,
    Integration); None for every other vote (secret from the API, or public), whose records leave it out."""


class ElectorateEntry(Base):
    """A voter (a member, or a household) in a vote's electorate, frozen when the vote opens."""

    __tablename__ = "electorate"

    vote_id: Mapped[str] = mapped_column(ForeignKey("votes.id"), primary_key=True)
    voter_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    weight: Mapped[str] = mapped_column(String(40))


class Participation(Base):
    """Who has voted, and how: kept apart from the ballots so that a secret ballot names nobody.

    The primary key makes a second ballot for the same voter (or household) impossible, whatever
    the channel and however concurrent the requests. ``idempotency_hash`` and ``sealed_receipt``
    let a retried request get its receipt back: the receipt is sealed with a pad derived from the
    client's idempotency key, which is stored only as a hash. That unique index leads with the hash
    so that only the primary key starts with ``vote_id``: PostgreSQL's generic plan for a voter's
    lookup, made while a vote is empty, cannot then pick an index scanning the whole vote.
    """

    __tablename__ = "participations"
    __table_args__ = (UniqueConstraint("idempotency_hash", "vote_id"),)

    vote_id: Mapped[str] = mapped_column(ForeignKey("votes.id"), primary_key=True)
    voter_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    channel: Mapped[str] = mapped_column(String(10))
    teller_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    cast_at: Mapped[datetime]
    changes: Mapped[int]
    idempotency_hash: Mapped[str | None] = mapped_column(String(64))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    sealed_receipt: Mapped[str | None] = mapped_column(String(128))
    receipt_tag: Mapped[str | None] = mapped_column(String(64))
    """A keyed digest of the voter's latest receipt (``engine.voting.seals``): only that receipt changes
    the ballot, and only once. None for ballots cast before it existed."""


class Ballot(Base):
    """A counted ballot: its choice, its weight and its receipt's fingerprint.

    No time, no sequence and, in a secret vote, no voter: the id is random, and SQLite keeps the
    table without a rowid, so neither the row's id nor its place reveals when it was cast.
    """

    __tablename__ = "ballots"
    __table_args__ = (UniqueConstraint("vote_id", "fingerprint"), {"sqlite_with_rowid": False})

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    vote_id: Mapped[str] = mapped_column(ForeignKey("votes.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    choice: Mapped[Any] = mapped_column(JSON)
    weight: Mapped[str] = mapped_column(String(40))
    voter_key: Mapped[str | None] = mapped_column(String(120))
    """Only in public votes, where who voted what is visible to the community."""


class ReplacedBallot(Base):
    """The fingerprint of a ballot that a later one replaced: its receipt is spent, and the receipt
    check can say it was recorded but is no longer current. No choice, no voter, no time; like
    ``ballots``, kept without a rowid on SQLite, so the row's place says nothing of when."""

    __tablename__ = "replaced_ballots"
    __table_args__ = {"sqlite_with_rowid": False}

    vote_id: Mapped[str] = mapped_column(ForeignKey("votes.id"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)


# ---- encrypted votes (docs/ballot-encryption.md, Integration) --------------------------------
# Public data only: commitments, verification keys, relayed envelopes (opaque to the server), credentials'
# public keys, ciphertexts with their proofs, trackers, decryption factors. Never a trustee's secret, never a
# plaintext choice.

class Ceremony(Base):
    """An encrypted vote's ceremony: its trustees (k of n), its state and, once keyed, its election."""

    __tablename__ = "vote_ceremonies"

    vote_id: Mapped[str] = mapped_column(ForeignKey("votes.id"), primary_key=True)
    threshold: Mapped[int]
    trustees: Mapped[list[Any]]
    """Member ids in trustee order: trustee j is ``trustees[j - 1]``."""
    state: Mapped[str] = mapped_column(String(12))
    """keying → open → closed → decrypting → decided; or keying → failed (fewer than k trustees left qualified)."""
    election: Mapped[dict[str, Any] | None]
    """The election descriptor (docs §3) once every trustee's key share checked."""
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    tally: Mapped[dict[str, Any] | None]
    """At the close: the homomorphic sums (heads, then weights in an owners' vote) and each one's bound."""
    round: Mapped[int] = mapped_column(server_default="0")
    """The key generation's round: 0, then one more each time a dealer is disqualified (docs §4, step 2)."""
    disqualified: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    """Trustee numbers disqualified as dealers, in order; they take no further part (their numbers stay unused)."""
    answer_hours: Mapped[int] = mapped_column(server_default="24")
    """How long a dealer has to answer a complaint before anyone may have them disqualified."""


class CeremonyPost(Base):
    """What a trustee published: ``dealing``, ``envelope`` (for ``recipient``), ``key_share``, ``complaint``
    (against dealer ``recipient``), ``answer`` (a dealer's share revealed to complainant ``recipient``) or
    ``decryption``, in key generation round ``round``. Public, or opaque to the server (envelopes); the posts of
    a round that ended in a disqualification stay, as its evidence."""

    __tablename__ = "ceremony_posts"

    vote_id: Mapped[str] = mapped_column(ForeignKey("votes.id"), primary_key=True)
    round: Mapped[int] = mapped_column(primary_key=True, server_default="0")
    trustee: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), primary_key=True)
    recipient: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[dict[str, Any]]


class VoterCredential(Base):
    """A voter's credential public key C, bound to their entry in the frozen electorate (docs §5)."""

    __tablename__ = "voter_credentials"
    __table_args__ = (UniqueConstraint("vote_id", "credential"),)

    vote_id: Mapped[str] = mapped_column(ForeignKey("votes.id"), primary_key=True)
    voter_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    credential: Mapped[str] = mapped_column(String(64))


class EncryptedBallot(Base):
    """A cast encrypted ballot: the whole ballot (ciphertexts, proofs, signature), its tracker and weight.

    No time, no sequence, no voter beyond the credential in the ballot; kept without a rowid on SQLite.
    ``replaced``: a later ballot of the same credential counts instead (it stays on the board, marked)."""

    __tablename__ = "encrypted_ballots"
    __table_args__ = {"sqlite_with_rowid": False}

    vote_id: Mapped[str] = mapped_column(ForeignKey("votes.id"), primary_key=True)
    tracker: Mapped[str] = mapped_column(String(64), primary_key=True)
    credential: Mapped[str] = mapped_column(String(64), index=True)
    ballot: Mapped[dict[str, Any]]
    weight: Mapped[str] = mapped_column(String(40))
    replaced: Mapped[bool]
    channel: Mapped[str] = mapped_column(String(8), server_default="online")
    """``online`` (encrypted on the voter's device) or ``paper`` (by a teller's client, as the paper ballot is entered)."""


class AuditedBallot(Base):
    """The tracker of a ballot its voter audited instead of casting (docs §6, Benaloh): never cast afterwards.

    Only the tracker: no voter, no time; kept without a rowid on SQLite."""

    __tablename__ = "audited_ballots"
    __table_args__ = {"sqlite_with_rowid": False}

    vote_id: Mapped[str] = mapped_column(ForeignKey("votes.id"), primary_key=True)
    tracker: Mapped[str] = mapped_column(String(64), primary_key=True)
