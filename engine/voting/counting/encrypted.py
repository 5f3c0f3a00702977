"""An encrypted vote's result from its decrypted sums, through today's rules unchanged (docs/ballot-encryption.md §8).

Pure, like the rest of ``counting``: the engine publishes with it and the offline verifier recounts with it.
"""

from __future__ import annotations

from typing import Any

from engine.voting.counting.tally import tally

ENCRYPTED = "encrypted"


def result_from_counts(config: dict[str, Any], electorate: dict[str, Any], slots: list[str], counts: list[int],
                       weighted: bool, trustees: list[int]) -> dict[str, Any]:
    """Today's rules over the decrypted sums, unchanged: each slot's sums become as many single-choice ballots with
    the same heads and weight totals (exact for single-choice methods, where rules read only the totals)."""
    heads = counts[:len(slots)]
    entries: list[dict[str, Any]] = []
    for t, slot in enumerate(slots):
        if heads[t] == 0:
            continue
        if not weighted:
            entries += [{"choice": slot}] * heads[t]
            continue
        units = counts[len(slots) + t]
        entries += [{"choice": slot, "weight": "0.01"}] * (heads[t] - 1)
        rest = units - (heads[t] - 1)
        entries.append({"choice": slot, "weight": f"{rest // 100}.{rest % 100:02d}"})
    result = tally(entries, config, electorate)
    return {**result, "secrecy": ENCRYPTED, "decryption": {"slots": slots, "counts": counts, "trustees": trustees}}
