"""An encrypted vote's result from its decrypted sums, through today's rules unchanged (docs/ballot-encryption.md §8).

Pure, like the rest of ``counting``: the engine publishes with it and the offline verifier recounts with it.

Every encrypted method's slots are its options then ``abstain`` (docs §3), so the decrypted sums say each option's
heads and weight (for approval: how many ballots approved it) and the abstentions'. What they cannot say — how many
ballots were cast, approval ballots approving several options — is public: the counted ballots are on the board
with their weights, and the tally's bounds are exactly their number and their Σ weight (§8). ``tally_sums`` then
gives the result ``tally`` gives on the same ballots in clear.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from engine.voting.counting.amounts import Amount
from engine.voting.counting.ballots import ABSTAIN
from engine.voting.counting.tally import Sums, tally_sums
from engine.voting.encryption.tally import AREA_UNITS

ENCRYPTED = "encrypted"


def result_from_counts(config: dict[str, Any], electorate: dict[str, Any], slots: list[str], counts: list[int],
                       bounds: list[int], weighted: bool, trustees: list[int]) -> dict[str, Any]:
    """Today's rules over the decrypted sums. ``counts`` and ``bounds`` are per slot, the heads' sums first and, in an
    owners' vote, the weights' (0.01 m²) after them; a heads bound is the number of counted ballots, a weights
    bound their Σ weight."""
    size = len(slots)
    weights = counts[size:] if weighted else counts[:size]

    def amount(t: int) -> Amount:
        return Amount(counts[t], Fraction(weights[t], AREA_UNITS) if weighted else Fraction(weights[t]))

    cast_weight = Fraction(bounds[size], AREA_UNITS) if weighted else Fraction(bounds[0])
    sums = Sums(cast=Amount(bounds[0], cast_weight), abstentions=amount(slots.index(ABSTAIN)),
                options={slot: amount(t) for t, slot in enumerate(slots) if slot != ABSTAIN})
    result = tally_sums(sums, config, electorate)
    return {**result, "secrecy": ENCRYPTED, "decryption": {"slots": slots, "counts": counts, "trustees": trustees}}
