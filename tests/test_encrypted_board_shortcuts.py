"""The verifier's shortcuts for a 100,000-ballot board give exactly what the plain definitions give (issue 17's tally
target): the tracker, the signed digest and the Merkle leaf made from one canonical text per ballot, and the root
combined from leaves hashed in ranges.

Pure functions over real ballots: no database (the verifier's processes and verdicts are exercised on both backends
by tests/test_encrypted_fast_cast.py and tests/test_audit_encrypted_board.py)."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest

from engine.audit.offline import encrypted_ballots
from engine.voting.counting import board
from engine.voting.encryption import ballots as eb
from engine.voting.encryption.group import base_mul, random_scalar
from engine.voting.encryption.hashing import canonical_json

ELECTION = eb.make_election("vote-1", base_mul(random_scalar()), "yes_no_abstain", [], 1, [base_mul(random_scalar())])
CHOICES = ["yes", "no", "abstain", "yes", "no", "yes", "yes"]
WEIGHTS = ["86.35", "120.5", "86.35", "1", "86.35", "120.5", "40"]


def entries() -> list[dict[str, Any]]:
    """A board's entries: real ballots, one replaced, weights in m², sorted by tracker as the board lists them."""
    made = []
    for i, (choice, weight) in enumerate(zip(CHOICES, WEIGHTS)):
        ballot = eb.encrypt_ballot(ELECTION, random_scalar(), choice)[0].to_json()
        made.append({"tracker": eb.tracker(ballot), "ballot": ballot, "weight": weight, "replaced": i == 2,
                     "channel": "paper" if i == 4 else "online"})
    return sorted(made, key=lambda e: e["tracker"])


def test_the_verifiers_texts_are_the_plain_definitions() -> None:
    for entry in entries():
        ballot, problems, refused, text = encrypted_ballots.check_one(ELECTION, entry)
        assert (problems, refused) == ([], False) and text == canonical_json(ballot.to_json())
        digest = encrypted_ballots.unsigned_digest(entry["ballot"], text)
        assert digest == hashlib.sha256(canonical_json(ballot.unsigned_json())).digest()
        with pytest.raises(eb.BallotRefused, match="signature fails"):
            eb.verify_ballot(ELECTION, ballot, bytes(32))  # the digest given is the one checked
        for extra in ({}, {"note": "x"}, {"aaa": 1}, {"ballot0": [1]}, {"Zed": None}):  # keys after and before "ballot"
            shaped = {**entry, **extra}
            assert encrypted_ballots.leaf(shaped, text) == board.leaf_digest(shaped)
        assert encrypted_ballots.leaf({"ballot": entry["ballot"]}, text) == board.leaf_digest({"ballot": entry["ballot"]})


def test_the_root_from_leaves_hashed_in_ranges_is_the_boards() -> None:
    listed = entries()
    for count in range(len(listed) + 1):  # odd and even levels, one leaf, none
        assert board.root_of_leaves([board.leaf_digest(e) for e in listed[:count]]) == board.merkle_root(listed[:count])
    counted = encrypted_ballots.candidates(listed)
    whole = encrypted_ballots.Checked()
    for start in range(0, len(listed), 3):
        whole.merge(encrypted_ballots.check_range(ELECTION, listed, counted, True, start, min(start + 3, len(listed))))
    assert whole.leaves is not None and board.root_of_leaves(whole.leaves) == board.merkle_root(listed)
    broken = copy.deepcopy(listed)
    del broken[4]["ballot"]["signature"]
    assert encrypted_ballots.check_range(ELECTION, broken, counted, True, 3, 6).leaves is None
