"""Voting's commands: casting a ballot, entering and correcting a paper ballot (handled in ``handlers``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CastBallot:
    vote_id: str
    choice: Any
    idempotency_key: str | None = None
    previous_receipt: str | None = None


@dataclass(frozen=True)
class EnterPaperBallot:
    vote_id: str
    member_id: int
    choice: Any


@dataclass(frozen=True)
class CorrectPaperBallot:
    vote_id: str
    member_id: int
    receipt: str
    choice: Any
    reason: str | None = None
    """Why the teller corrects it (recorded in the history's event), when given."""


# ---- encrypted votes (engine.voting.ceremony) ------------------------------------------------

@dataclass(frozen=True)
class PublishDealing:
    vote_id: str
    dealing: Any
    envelope_key: Any


@dataclass(frozen=True)
class PublishEnvelopes:
    vote_id: str
    envelopes: Any


@dataclass(frozen=True)
class PublishComplaint:
    vote_id: str
    dealer: int


@dataclass(frozen=True)
class PublishKeyShare:
    vote_id: str
    key_share: Any


@dataclass(frozen=True)
class RegisterCredential:
    vote_id: str
    credential: Any


@dataclass(frozen=True)
class CastEncryptedBallot:
    vote_id: str
    ballot: Any


@dataclass(frozen=True)
class AuditBallot:
    """Benaloh's audit: the tracker of a ballot its voter opens instead of casting (never its randomness)."""

    vote_id: str
    tracker: Any


@dataclass(frozen=True)
class PublishDecryption:
    vote_id: str
    partial: Any
