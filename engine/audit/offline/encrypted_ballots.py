"""An encrypted board's ballots checked on every core (``yishi tally --verify``; docs/ballot-encryption.md §9).

Checking a ballot (decoding every point, its tracker, every proof and the signature) is nearly all of a big
board's verification: about 1.5 ms of libsodium per yes/no/abstain ballot, two and a half minutes for 100,000 on
one core. The ballots are independent, so they are checked in ranges by forked processes that inherit the board
(nothing is copied to them), and each range's process also adds up its candidates' ciphertexts (the last
ballot listed for each credential and not marked replaced), grouped by weight, since adding is most of the
tally's cost, and hashes its entries' Merkle leaves (the parent combines them into the root). A ballot is encoded
once: its canonical JSON gives its tracker, its leaf and the digest its signature signs. The verifier then walks the board in order, as it always did, with each ballot's findings: the same
messages in the same order, whatever the number of processes. The candidates' sums are the tally only when the
walk counts exactly the candidates (every one of them checked, no credential counted twice); otherwise the
verifier adds up what it counted itself.
"""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing import get_all_start_methods, get_context
from typing import Any

from engine.voting.counting import board as plain_board
from engine.voting.encryption import ballots as eballots
from engine.voting.encryption import tally as etally
from engine.voting.encryption.elgamal import ZERO, Ciphertext
from engine.voting.encryption.hashing import canonical_json

SERIAL_BELOW = 500
"""Boards with fewer ballots are checked in this process: a pool's start costs more than it saves."""
RANGES_PER_PROCESS = 8
"""Ranges per process, so that a process slowed by the rest of the machine does not hold up the end."""


def check_one(election: eballots.Election, entry: dict[str, Any]) -> tuple[eballots.Ballot, list[str], bool, bytes]:
    """One board entry's ballot, what is wrong with it, whether its proofs failed (then it is not counted), and the
    ballot's canonical JSON.

    The strict decoder accepts exactly one spelling of each ballot (the known keys, lowercase canonical hex), so the
    canonical JSON of the board's value is that of the decoded ballot: the text is made once, from the value.
    Raises KeyError, TypeError or ValueError when the entry cannot be read: the board cannot be read."""
    value = entry["ballot"]
    ballot = eballots.Ballot.from_json(value)
    text = canonical_json(value)
    problems = []
    if hashlib.sha256(text).hexdigest() != entry["tracker"]:
        problems.append(f"ballot {entry['tracker'][:12]}…: its tracker is not its hash")
    try:
        eballots.verify_ballot(election, ballot, unsigned_digest(value, text))
    except eballots.BallotRefused as exc:
        problems.append(f"ballot {entry['tracker'][:12]}…: {exc}")
        return ballot, problems, True, text
    return ballot, problems, False, text


def unsigned_digest(value: dict[str, Any], text: bytes) -> bytes:
    """What a decoded ballot's signature signs, from its canonical text: the text without ``"signature":…``, the
    last member but ``vote`` (keys sorted; a decoded ballot has exactly its eight)."""
    tail = b',"vote":' + canonical_json(value["vote"]) + b"}"
    cut = len(tail) + len(b',"signature":') + len(canonical_json(value["signature"]))
    return hashlib.sha256(text[:-cut] + tail).digest()


def leaf(entry: dict[str, Any], ballot_text: bytes) -> bytes:
    """The entry's Merkle leaf (``board.merkle_root``'s), its canonical JSON built around the ballot's text: with
    sorted keys ``ballot`` comes first when every other key sorts after it, as on every board Yishi publishes."""
    rest = {key: item for key, item in entry.items() if key != "ballot"}
    if any(key < "ballot" for key in rest):
        return plain_board.leaf_of(canonical_json(entry))
    return plain_board.leaf_of(b'{"ballot":' + ballot_text + (b"," + canonical_json(rest)[1:] if rest else b"}"))


def candidates(entries: Sequence[dict[str, Any]]) -> set[int]:
    """The entries the tally will count if every ballot checks: the last one listed for each credential among
    those not marked replaced (read from the JSON alone; a malformed entry is the walk's to report)."""
    last: dict[Any, int] = {}
    for index, entry in enumerate(entries):
        try:
            if not entry["replaced"]:
                last[entry["ballot"]["credential"]] = index
        except (KeyError, TypeError):
            continue
    return set(last.values())


@dataclass
class Checked:
    """Every entry's findings, and the candidates' ciphertexts added up by weight (in 0.01 m² units; 1 by heads)."""

    problems: dict[int, list[str]] = field(default_factory=dict)
    refused: set[int] = field(default_factory=set)
    unreadable: int | None = None
    """The first entry that cannot be read: the walk reads it again, and stops there as it always did."""
    groups: dict[int, list[Ciphertext]] | None = field(default_factory=dict)
    """None when a candidate's weight cannot be read: the walk's own tally says so."""
    leaves: list[bytes] | None = field(default_factory=list)
    """Every entry's Merkle leaf in board order; None past an unreadable entry (the root is then hashed anew)."""

    def merge(self, other: Checked) -> None:
        """Add a later range's findings to these (ranges are merged in board order)."""
        self.problems |= other.problems
        self.refused |= other.refused
        if self.unreadable is None:
            self.unreadable = other.unreadable
        if self.leaves is None or other.leaves is None:
            self.leaves = None
        else:
            self.leaves += other.leaves
        if self.groups is None or other.groups is None:
            self.groups = None
            return
        for units, sums in other.groups.items():
            mine = self.groups.get(units)
            self.groups[units] = sums if mine is None else [a + b for a, b in zip(mine, sums)]

    def tally(self, election: eballots.Election, weighted: bool) -> tuple[list[Ciphertext], list[Ciphertext]]:
        """The candidates' heads sums, and in an owners' vote their weighted sums (as ``homomorphic_tally``)."""
        assert self.groups is not None
        heads = [ZERO] * len(election.slots)
        weights = [ZERO] * len(election.slots)
        for units, sums in self.groups.items():
            heads = [h + s for h, s in zip(heads, sums)]
            if weighted:
                weights = [w + s.times(units) for w, s in zip(weights, sums)]
        return heads, weights


def check_range(election: eballots.Election, entries: Sequence[dict[str, Any]], counted: set[int], weighted: bool,
                start: int, stop: int) -> Checked:
    checked = Checked()
    leaves: list[bytes] = []
    for index in range(start, stop):
        entry = entries[index]
        try:
            ballot, problems, refused, text = check_one(election, entry)
        except (KeyError, TypeError, ValueError):
            checked.unreadable, checked.leaves = index, None
            break
        leaves.append(leaf(entry, text))
        if problems:
            checked.problems[index] = problems
        if refused:
            checked.refused.add(index)
        elif index in counted and checked.groups is not None:
            try:
                units = etally.weight_units(entry["weight"]) if weighted else 1
            except (KeyError, TypeError, ValueError):
                checked.groups = None
                continue
            sums = checked.groups.get(units)
            checked.groups[units] = list(ballot.ciphertexts) if sums is None else [
                s + c for s, c in zip(sums, ballot.ciphertexts)]
    if checked.leaves is not None:
        checked.leaves = leaves
    return checked


_BOARD: tuple[eballots.Election, Sequence[dict[str, Any]], set[int], bool] | None = None
"""The board a pool's forked processes inherit (set only while the pool runs)."""


def _check_inherited(bounds: tuple[int, int]) -> Checked:
    assert _BOARD is not None
    return check_range(*_BOARD, *bounds)


def check_all(election: eballots.Election, entries: Sequence[dict[str, Any]], counted: set[int], weighted: bool,
              processes: int | None = None) -> Checked:
    """Every entry checked, on ``processes`` forked processes (default: every core); the same answer on one."""
    global _BOARD
    processes = processes or os.cpu_count() or 1
    if processes == 1 or len(entries) < SERIAL_BELOW or "fork" not in get_all_start_methods():
        return check_range(election, entries, counted, weighted, 0, len(entries))
    step = -(-len(entries) // (processes * RANGES_PER_PROCESS))
    ranges = [(start, min(start + step, len(entries))) for start in range(0, len(entries), step)]
    checked = Checked()
    _BOARD = (election, entries, counted, weighted)
    gc.freeze()  # the processes' collections leave the inherited board alone: its pages are not copied for them
    try:
        with get_context("fork").Pool(processes) as pool:
            for part in pool.imap(_check_inherited, ranges):
                checked.merge(part)
                if checked.unreadable is not None:  # the walk stops there: later ranges do not matter
                    break
    finally:
        gc.unfreeze()
        _BOARD = None
    return checked
