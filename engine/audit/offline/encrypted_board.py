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
from engine.voting.encryption import encoding
from engine.voting.encryption import tally as etally
from engine.voting.encryption import trustees as etrustees
from engine.voting.encryption.elgamal import Ciphertext

CHANNELS = ("online", "paper")
FORMAT = "yishi-encrypted-board/1"
TRACKER = re.compile(r"[0-9a-f]{64}")


@dataclass
class Verdict:
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    ballots: int = 0
    counted: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    """Counted ballots by channel: ``online`` (voters' devices) and ``paper`` (tellers' clients)."""
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
    if sorted(d.dealer for d in dealings) != list(election.numbers) or sorted(s.trustee for s in shares) != list(election.numbers):
        verdict.problem(f"the dealers and key shares are not those of the qualified trustees {list(election.numbers)}")
    _disqualifications(doc, election, verdict)
    entries = doc["ballots"]
    verdict.ballots = len(entries)
    # The ballots are checked first, since their processes hash the Merkle leaves too; the findings are reported in
    # the order they always were (the root, the audited trackers, then the walk), and what is read from the board
    # is read where it always was, so an unreadable board stops at the same place.
    ahead = encrypted_ballots.candidates(entries)
    checked = encrypted_ballots.check_all(election, entries, ahead, doc.get("weighted"), processes)
    root = plain_board.merkle_root(entries) if checked.leaves is None else plain_board.root_of_leaves(checked.leaves)
    if root != doc["root"]:
        verdict.problem("the root over the listed ballots differs from the board's")
    audited = _audited_trackers(doc, verdict)
    weighted = doc["weighted"]
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
        if entry["channel"] not in CHANNELS:
            verdict.problem(f"ballot {entry['tracker'][:12]}…: its channel is neither online nor paper")
        if not entry["replaced"]:
            verdict.by_channel[entry["channel"]] = verdict.by_channel.get(entry["channel"], 0) + 1
            credential = entry["ballot"]["credential"]
            if credential in last:
                verdict.problem(f"two counted ballots under credential {credential[:12]}…")
            last[credential] = (index, entry["weight"])
    verdict.counted = len(last)
    _turnout(doc, verdict)
    counted = list(last.values())
    if checked.groups is not None and {i for i, _ in counted} == ahead:  # the sums made where they were checked
        sums, weights = checked.tally(election, weighted)
    else:
        ballots = [(eballots.Ballot.from_json(entries[i]["ballot"]), w) for i, w in counted]
        sums = etally.homomorphic_tally(election, [(b, 1) for b, _ in ballots])
        weights = etally.homomorphic_tally(election, [(b, etally.weight_units(w)) for b, w in ballots]) if weighted else []
    bounds = [len(counted)] * len(sums)
    if weighted:
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
                                 weighted, doc["tally"].get("trustees", []))
    verdict.recount = recount
    if recount != doc["result"]:
        verdict.problem("the recount differs from the published result")


def _turnout(doc: dict[str, Any], verdict: Verdict) -> None:
    """The counted ballots of each channel are as many as the voters who took part by it (the participations: who
    voted, online or through a teller on paper)."""
    turnout = doc["turnout"]
    if not isinstance(turnout, dict) or set(turnout) - set(CHANNELS) or any(type(n) is not int for n in turnout.values()):
        verdict.problem("the turnout is not a count of voters for each channel (online, paper)")
        return
    for channel in CHANNELS:
        if verdict.by_channel.get(channel, 0) != turnout.get(channel, 0):
            verdict.problem(f"{verdict.by_channel.get(channel, 0)} ballots cast {channel} are counted, "
                            f"but {turnout.get(channel, 0)} voters took part {channel}")


def _disqualifications(doc: dict[str, Any], election: eballots.Election, verdict: Verdict) -> None:
    """Each dealer the election says was disqualified (docs §4 step 2) has its evidence on the board, round by round:
    the complaint against it, its dealing of that round (whose proof holds) and either the share it revealed, which
    must NOT check against that dealing, or no answer (the deadline passed). A board without disqualification has
    no such section, and its election names nobody."""
    evidence = doc.get("disqualifications", [])
    if type(evidence) is not list or (not evidence and "disqualifications" in doc):
        verdict.problem("the disqualifications are not a non-empty list")
        return
    if [e.get("dealer") if isinstance(e, dict) else None for e in evidence] != list(election.disqualified):
        verdict.problem(f"the election disqualifies trustees {list(election.disqualified)}, "
                        "the board's evidence names others")
        return
    for r, item in enumerate(evidence):
        dealer, complainant = item["dealer"], item["complainant"]
        dealing = etrustees.Dealing.from_json(item["dealing"])
        try:
            if item["round"] != r or dealing.dealer != dealer or type(complainant) is not int or complainant == dealer:
                raise etrustees.BadTrustee(dealer, f"the evidence of round {r} is not a complaint against this dealer's dealing")
            etrustees.verify_dealing(election.vote, dealing, election.threshold)
        except etrustees.BadTrustee as exc:
            verdict.problem(f"disqualification: {exc}")
            continue
        revealed = None if item["answer"] is None else encoding.scalar(item["answer"], "answer")
        if (item["reason"], revealed is None) not in (("bad_answer", False), ("no_answer", True)):
            verdict.problem(f"disqualification of trustee {dealer}: reason {item['reason']!r} does not fit its answer")
        elif etrustees.resolve_complaint(dealing, complainant, revealed) != dealer:
            verdict.problem(f"trustee {dealer} was disqualified in round {r} although the share it revealed to "
                            f"trustee {complainant} checks against its commitments")
