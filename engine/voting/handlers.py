"""Voting's command handlers: a ballot alone, ballots cast together, paper ballots.

Every handler seals what participations keep of voters' requests with the engine's ballot seal: a
secret derived from the audit key for ``SEAL_PURPOSE`` (``EngineContext.secret``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from engine.identity.actors import Actor
from engine.kernel.bus import handles, handles_together
from engine.kernel.unit_of_work import UnitOfWork
from engine.voting import casting
from engine.voting.casting import Receipt
from engine.voting import ceremony, encrypted_casting
from engine.voting import encrypted_paper
from engine.voting.commands import (
    AuditBallot, CastBallot, CastEncryptedBallot, CorrectPaperBallot, EnterPaperBallot, PublishComplaint, PublishDealing,
    PublishDecryption, PublishEnvelopes, PublishKeyShare, RegisterCredential,
)
from engine.voting.commands import CastEncryptedPaperBallot, CorrectEncryptedPaperBallot
from engine.voting import complaints
from engine.voting.commands import AnswerComplaint, DisqualifyDealer
from engine.voting.seals import BallotSeal

SEAL_PURPOSE = "yishi-ballot-seal/1"


def seal_of(uow: UnitOfWork) -> BallotSeal:
    return _seal(uow.context.secret(SEAL_PURPOSE))


@lru_cache(maxsize=16)
def _seal(key: bytes) -> BallotSeal:
    return BallotSeal(key)


@handles(CastBallot)
def cast_ballot(uow: UnitOfWork, actor: Actor, cmd: CastBallot) -> Receipt:
    return casting.cast(uow, seal_of(uow), actor, cmd.vote_id, cmd.choice,
                        idempotency_key=cmd.idempotency_key, previous_receipt=cmd.previous_receipt)


@handles_together(CastBallot)
def cast_ballots_together(uow: UnitOfWork, requests: list[tuple[str, Any]]) -> list[Receipt | None]:
    """Plain first ballots of many (token, cast) requests in one transaction (``casting.cast_together``)."""
    return casting.cast_together(uow, seal_of(uow), requests)


@handles(EnterPaperBallot)
def enter_paper_ballot(uow: UnitOfWork, actor: Actor, cmd: EnterPaperBallot) -> Receipt:
    return casting.enter_paper(uow, seal_of(uow), actor, cmd.vote_id, cmd.member_id, cmd.choice)


@handles(CorrectPaperBallot)
def correct_paper_ballot(uow: UnitOfWork, actor: Actor, cmd: CorrectPaperBallot) -> Receipt:
    return casting.correct_paper(uow, seal_of(uow), actor, cmd.vote_id, cmd.member_id, cmd.receipt, cmd.choice, cmd.reason)


# ---- encrypted votes: every one a transaction of its own, recorded in the vote's history -----

@handles(PublishDealing)
def publish_dealing(uow: UnitOfWork, actor: Actor, cmd: PublishDealing) -> dict[str, Any]:
    return ceremony.publish_dealing(uow, actor, cmd.vote_id, cmd.dealing, cmd.envelope_key)


@handles(PublishEnvelopes)
def publish_envelopes(uow: UnitOfWork, actor: Actor, cmd: PublishEnvelopes) -> dict[str, Any]:
    return ceremony.publish_envelopes(uow, actor, cmd.vote_id, cmd.envelopes)


@handles(PublishComplaint)
def publish_complaint(uow: UnitOfWork, actor: Actor, cmd: PublishComplaint) -> dict[str, Any]:
    return ceremony.publish_complaint(uow, actor, cmd.vote_id, cmd.dealer)


@handles(PublishKeyShare)
def publish_key_share(uow: UnitOfWork, actor: Actor, cmd: PublishKeyShare) -> dict[str, Any]:
    return ceremony.publish_key_share(uow, actor, cmd.vote_id, cmd.key_share)


@handles(RegisterCredential)
def register_credential(uow: UnitOfWork, actor: Actor, cmd: RegisterCredential) -> dict[str, Any]:
    return ceremony.register_credential(uow, actor, cmd.vote_id, cmd.credential, cmd.replace is True)


@handles(CastEncryptedBallot)
def cast_encrypted_ballot(uow: UnitOfWork, actor: Actor, cmd: CastEncryptedBallot) -> ceremony.Cast:
    return ceremony.cast(uow, actor, cmd.vote_id, cmd.ballot)


@handles_together(CastEncryptedBallot, alone=True)
def cast_encrypted_ballots_together(uow: UnitOfWork, requests: list[tuple[str, Any]]) -> list[ceremony.Cast | None]:
    """Encrypted first ballots of many (token, cast) requests in one transaction (``encrypted_casting.cast_together``);
    a lone first ballot too: its handful of core statements cost a third of ``ceremony.cast``'s ORM path."""
    return encrypted_casting.cast_together(uow, requests)


@handles(AuditBallot)
def audit_ballot(uow: UnitOfWork, actor: Actor, cmd: AuditBallot) -> ceremony.Audited:
    return ceremony.audit_ballot(uow, actor, cmd.vote_id, cmd.tracker)


@handles(PublishDecryption)
def publish_decryption(uow: UnitOfWork, actor: Actor, cmd: PublishDecryption) -> dict[str, Any]:
    return ceremony.publish_decryption(uow, actor, cmd.vote_id, cmd.partial)


@handles(CastEncryptedPaperBallot)
def cast_encrypted_paper_ballot(uow: UnitOfWork, actor: Actor, cmd: CastEncryptedPaperBallot) -> ceremony.Cast:
    return encrypted_paper.enter(uow, actor, cmd.vote_id, cmd.member_id, cmd.credential, cmd.ballot)


@handles(CorrectEncryptedPaperBallot)
def correct_encrypted_paper_ballot(uow: UnitOfWork, actor: Actor, cmd: CorrectEncryptedPaperBallot) -> ceremony.Cast:
    return encrypted_paper.correct(uow, actor, cmd.vote_id, cmd.member_id, cmd.tracker, cmd.credential, cmd.ballot,
                                   cmd.reason)


@handles(AnswerComplaint)
def answer_complaint(uow: UnitOfWork, actor: Actor, cmd: AnswerComplaint) -> dict[str, Any]:
    return complaints.answer(uow, actor, cmd.vote_id, cmd.complainant, cmd.share)


@handles(DisqualifyDealer)
def disqualify_dealer(uow: UnitOfWork, actor: Actor, cmd: DisqualifyDealer) -> dict[str, Any]:
    return complaints.disqualify_unanswered(uow, actor, cmd.vote_id, cmd.dealer)
