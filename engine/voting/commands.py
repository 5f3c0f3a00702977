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
class AnswerComplaint:
    """A dealer reveals the share it dealt to ``complainant`` (docs §4 step 2): dismissed if it checks, else the dealer
    is disqualified and the key generation restarts without them (``engine.voting.complaints``)."""
    vote_id: str
    complainant: int
    share: Any


@dataclass(frozen=True)
class DisqualifyDealer:
    """Anyone in the community: disqualify a dealer whose complaint went unanswered past the ceremony's deadline."""
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
    replace: bool = False
    """The voting key was lost before voting: this credential replaces the registered one (refused once a ballot was cast)."""


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


@dataclass(frozen=True)
class CastEncryptedPaperBallot:
    """A teller casts a named voter's paper ballot, encrypted by the teller's client under a fresh credential
    (``engine.voting.encrypted_paper``)."""

    vote_id: str
    member_id: int
    credential: Any
    ballot: Any


@dataclass(frozen=True)
class CorrectEncryptedPaperBallot:
    """A teller replaces a voter's encrypted paper ballot (the tracker on their slip) by the corrected one, with why."""

    vote_id: str
    member_id: int
    tracker: Any
    credential: Any
    ballot: Any
    reason: Any
