"""Checking one audited ballot offline (Benaloh's cast-or-audit, docs/ballot-encryption.md §6; ``yishi tally --audit``).

The booth lets a voter who audits a ballot save ``{"election": <descriptor>, "ballot": …, "randomness": [hex, …]}``
(with ``"format": "yishi-ballot-audit/1"``, optional for other clients' files). Anyone — the voter, a friend they trust, an observer — checks it here
without the server and without the booth's code: the election's fingerprint φ recomputed from the descriptor and
matched with the ballot's, every proof and the signature, then the opening with the randomness, which says the
choice the ballot encrypted. If the booth's device had encrypted another choice than the voter's, this says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.voting.encryption import ballots as eballots
from engine.voting.encryption import encoding
from engine.voting.encryption.group import EncodingError

FORMAT = "yishi-ballot-audit/1"


@dataclass
class AuditVerdict:
    ok: bool = False
    problems: list[str] = field(default_factory=list)
    vote: str | None = None
    tracker: str | None = None
    choice: Any = None


def check(document: Any) -> AuditVerdict:
    """The choice an audited ballot encrypts, or why the file does not show one."""
    verdict = AuditVerdict()
    try:
        keys = {"election", "ballot", "randomness"} | ({"format"} if isinstance(document, dict) and "format" in document else set())
        fields = encoding.fields(document, keys, "audit")
        if fields.get("format", FORMAT) != FORMAT:
            raise EncodingError(f"audit: the format is {FORMAT}")
        election = eballots.Election.from_json(fields["election"])
        ballot = eballots.Ballot.from_json(fields["ballot"])
        randomness = [encoding.scalar(r, "randomness") for r in encoding.items(fields["randomness"], "randomness")]
    except (EncodingError, KeyError, TypeError, ValueError) as exc:
        verdict.problems.append(f"the audit file cannot be read: {exc}")
        return verdict
    verdict.vote, verdict.tracker = election.vote, eballots.tracker(ballot)
    try:
        verdict.choice = eballots.audit(election, ballot, randomness)
    except eballots.BallotRefused as exc:
        verdict.problems.append(str(exc))
        return verdict
    verdict.ok = True
    return verdict
