"""The key generation's rounds as the public sees them (docs/ballot-encryption.md §4 step 2): each complaint of the
current round with its deadline and its answer, why the ceremony failed if it did, and the evidence of every
disqualification — the complaint, the dealer's commitments of that round and the answer that did not check, or
the answer that never came. Read-only: the commands are in ``engine.voting.complaints``.

Round r ends when ``Ceremony.disqualified[r]`` is disqualified: the list and the rounds advance together, so the
dealer disqualified at the end of round r is always ``disqualified[r]``, and round r's posts stay as its evidence.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.voting.encryption import encoding
from engine.voting.encryption import trustees as etrustees
from engine.voting.models import Ceremony, CeremonyPost

BAD_ANSWER, NO_ANSWER = "bad_answer", "no_answer"
"""Why a dealer was disqualified: the share it revealed does not check, or it did not reveal it in time."""


def deadline(ceremony: Ceremony, complaint: CeremonyPost) -> datetime:
    """When a complaint may be escalated: its filing time plus the ceremony's ``answer_hours``."""
    return datetime.fromisoformat(complaint.body["filed_at"]) + timedelta(hours=ceremony.answer_hours)


def answers_of(posts: list[CeremonyPost]) -> dict[tuple[int, int], str]:
    """(complainant, dealer) → the share the dealer revealed, among one round's posts."""
    return {(p.recipient, p.trustee): p.body["share"] for p in posts if p.kind == "answer"}


def state_of(ceremony: Ceremony, posts: list[CeremonyPost], earlier: list[CeremonyPost]) -> dict[str, Any]:
    """The ceremony state's part on rounds: ``posts`` are the current round's, ``earlier`` every previous round's."""
    answers = answers_of(posts)
    qualified = [j for j in range(1, len(ceremony.trustees) + 1) if j not in ceremony.disqualified]
    return {
        "round": ceremony.round, "disqualified": list(ceremony.disqualified), "answer_hours": ceremony.answer_hours,
        "complaints": [{"trustee": p.trustee, "dealer": p.recipient, "filed_at": p.body["filed_at"],
                        "deadline": deadline(ceremony, p).isoformat(),
                        "answer": answers.get((p.trustee, p.recipient))} for p in posts if p.kind == "complaint"],
        "failure": {"reason": "threshold_unreachable", "qualified": qualified, "threshold": ceremony.threshold}
        if ceremony.state == "failed" else None,
        "disqualifications": evidence(ceremony, earlier),
    }


def earlier_posts(session: Session, ceremony: Ceremony) -> list[CeremonyPost]:
    """Every post of the rounds before the current one (public: the record of each disqualification)."""
    return list(session.scalars(select(CeremonyPost).where(
        CeremonyPost.vote_id == ceremony.vote_id, CeremonyPost.round < ceremony.round, CeremonyPost.kind.in_(
            ("dealing", "complaint", "answer"))).order_by(CeremonyPost.round, CeremonyPost.trustee, CeremonyPost.recipient)))


def evidence(ceremony: Ceremony, earlier: list[CeremonyPost]) -> list[dict[str, Any]]:
    """For each disqualified dealer: the round, the complaint that convicted them, their dealing of that round and
    the share they revealed (which does not check) or null (no answer by the deadline). Empty when nobody was."""
    found = []
    for r, dealer in enumerate(ceremony.disqualified):
        posts = [p for p in earlier if p.round == r]
        answers = answers_of(posts)
        complaints = [p for p in posts if p.kind == "complaint" and p.recipient == dealer]
        dealing = next(p.body["dealing"] for p in posts if p.kind == "dealing" and p.trustee == dealer)
        convicting = _convicting(dealing, complaints, answers)
        answer = answers.get((convicting.trustee, dealer))
        found.append({"round": r, "dealer": dealer, "complainant": convicting.trustee,
                      "filed_at": convicting.body["filed_at"], "reason": NO_ANSWER if answer is None else BAD_ANSWER,
                      "dealing": dealing, "answer": answer})
    return found


def _convicting(dealing: dict[str, Any], complaints: list[CeremonyPost],
                answers: dict[tuple[int, int], str]) -> CeremonyPost:
    """The complaint whose answer did not check, else the one left unanswered (the deadline's)."""
    parsed = etrustees.Dealing.from_json(dealing)
    for complaint in complaints:
        share = answers.get((complaint.trustee, complaint.recipient))
        if share is not None and not etrustees.verify_share(parsed, complaint.trustee, encoding.scalar(share, "share")):
            return complaint
    return next(c for c in complaints if (c.trustee, c.recipient) not in answers)
