"""Verifying an encrypted vote's board offline (``yishi tally --verify``; docs/ballot-encryption.md §9).

Every point decoded and validated; every trustee's dealing and key share checked; the election rebuilt from them
and its fingerprint compared; every ballot's proofs and signature checked, each credential's last ballot the only
one counted, and none of them a ballot its voter audited (Benaloh); the homomorphic tally recomputed; every
decryption factor's proof checked (a bad one named); the sums recombined from k factors and the result recounted
under today's rules. No database, no server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engine.audit.offline import encrypted_ballots
from engine.voting.counting import board as plain_board
from engine.voting.counting.encrypted import result_from_counts
from engine.voting.encryption import ballots as eballots
from engine.voting.encryption import tally as etally
from engine.voting.encryption import trustees as etrustees
from engine.voting.encryption.elgamal import Ciphertext

FORMAT = "yishi-encrypted-board/1"
TRACKER = re.compile(r"[0-9a-f]{64}")


@dataclass
class Verdict:
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    ballots: int = 0
    counted: int = 0
    recount: dict[str, Any] | None = None

    def problem(self, message: str) -> None:
        self.ok = False
        self.problems.append(message)


def is_encrypted_board(document: Any) -> bool:
    return isinstance(document, dict) and document.get("format") == FORMAT


def _audited_trackers(doc: dict[str, Any], verdict: Verdict) -> set[str]:
    """The trackers voters audited (Benaloh): each one a well-formed tracker, listed once, sorted as published."""
    audited = doc["audited"]
    if type(audited) is not list or any(type(t) is not str or TRACKER.fullmatch(t) is None for t in audited):
        verdict.problem("the audited trackers are not a list of 64-character lowercase hex trackers")
        return set()
    if audited != sorted(set(audited)):
        verdict.problem("the audited trackers are not listed once each, in order")
    return set(audited)


def verify(document: dict[str, Any], processes: int | None = None) -> Verdict:
    """Every check of the board; its ballots on ``processes`` processes (default: every core), the same verdict."""
    verdict = Verdict()
    try:
        _verify(document, verdict, processes)
    except (KeyError, TypeError, ValueError) as exc:
        verdict.problem(f"the board cannot be read: {type(exc).__name__}: {exc}")
    return verdict


def _verify(doc: dict[str, Any], verdict: Verdict, processes: int | None) -> None:
    election = eballots.Election.from_json(doc["election"])
    vote_id, k = election.vote, election.threshold
    dealings = [etrustees.Dealing.from_json(d) for d in doc["dealings"]]
    shares = [etrustees.KeyShare.from_json(s) for s in doc["key_shares"]]
    for dealing in dealings:
        try:
            etrustees.verify_dealing(vote_id, dealing, k)
        except etrustees.BadTrustee as exc:
            verdict.problem(f"dealing: {exc}")
    for share in shares:
        try:
            etrustees.verify_key_share(vote_id, dealings, share)
        except etrustees.BadTrustee as exc:
            verdict.problem(f"key share: {exc}")
    if etrustees.election_key(dealings) != election.key:
        verdict.problem("the election key is not the sum of the dealers' constant terms")
    if [s.key for s in sorted(shares, key=lambda s: s.trustee)] != list(election.trustees):
        verdict.problem("the election lists other verification keys than the trustees published")
    entries = doc["ballots"]
    verdict.ballots = len(entries)
    if plain_board.merkle_root(entries) != doc["root"]:
        verdict.problem("the root over the listed ballots differs from the board's")
    audited = _audited_trackers(doc, verdict)
    ahead = encrypted_ballots.candidates(entries)
    checked = encrypted_ballots.check_all(election, entries, ahead, doc["weighted"], processes)
    last: dict[str, tuple[int, str]] = {}
    for index, entry in enumerate(entries):
        if entry["tracker"] in audited:
            verdict.problem(f"ballot {entry['tracker'][:12]}… was audited (opened by its voter) yet it is on the board "
                            f"as {'replaced' if entry['replaced'] else 'counted'}: an audited ballot is never cast")
        if index == checked.unreadable:
            encrypted_ballots.check_one(election, entry)  # raises here, as it did where the ballots were checked
        for message in checked.problems.get(index, ()):
            verdict.problem(message)
        if index in checked.refused:
            continue
        if not entry["replaced"]:
            credential = entry["ballot"]["credential"]
            if credential in last:
                verdict.problem(f"two counted ballots under credential {credential[:12]}…")
            last[credential] = (index, entry["weight"])
    verdict.counted = len(last)
    counted = list(last.values())
    if checked.groups is not None and {i for i, _ in counted} == ahead:  # the sums made where they were checked
        sums, weights = checked.tally(election, doc["weighted"])
    else:
        ballots = [(eballots.Ballot.from_json(entries[i]["ballot"]), w) for i, w in counted]
        sums = etally.homomorphic_tally(election, [(b, 1) for b, _ in ballots])
        weights = etally.homomorphic_tally(election, [(b, etally.weight_units(w)) for b, w in ballots]) if doc["weighted"] else []
    bounds = [len(counted)] * len(sums)
    if doc["weighted"]:
        sums, bounds = sums + weights, bounds + [sum(etally.weight_units(w) for _, w in counted)] * len(weights)
    published = [Ciphertext.from_json(c, allow_identity=True) for c in doc["tally"]["ciphertexts"]]
    if published != sums or doc["tally"]["bounds"] != bounds:
        verdict.problem("the published tally is not the sum of the counted ballots")
    partials = [etrustees.Partial.from_json(p) for p in doc["decryptions"]]
    keys, good = {s.trustee: s for s in shares}, []
    for partial in partials:  # every factor's proof, each bad one named
        try:
            if partial.trustee not in keys:
                raise etrustees.BadTrustee(partial.trustee, "not a trustee of this vote")
            etrustees.verify_partial(election.fingerprint, keys[partial.trustee], sums, partial)
            good.append(partial)
        except etrustees.BadTrustee as exc:
            verdict.problem(f"decryption: {exc}")
    try:
        factors = etrustees.combine(good, k)
    except ValueError as exc:
        verdict.problem(f"the tally cannot be decrypted: {exc}")
        return
    counts = [etally.discrete_log(s.beta - f, b) for s, f, b in zip(sums, factors, bounds)]
    if counts != doc["tally"].get("counts"):
        verdict.problem(f"the decrypted counts are {counts}, the board says {doc['tally'].get('counts')}")
    recount = result_from_counts(doc["vote"], doc["electorate"], list(election.slots), counts, bounds,
                                 doc["weighted"], doc["tally"].get("trustees", []))
    verdict.recount = recount
    if recount != doc["result"]:
        verdict.problem("the recount differs from the published result")
