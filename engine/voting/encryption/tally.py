"""The encrypted tally: weighted homomorphic sums, the trustees' decryption and the bounded discrete log
(docs/ballot-encryption.md §7–§9).

Weights are integers: 1 by heads, an owner's floor area in 0.01 m² by weight (Belenios raises each ballot to its
voter's weight). Each slot of a ballot is 0 or 1, so a slot's sum lies in [0, Σ weights]: that bound is what the
baby-step giant-step search covers, and a sum outside it is an error, never a guess.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

from engine.voting.encryption import encoding
from engine.voting.encryption.ballots import Ballot, Election
from engine.voting.encryption.elgamal import ZERO, Ciphertext
from engine.voting.encryption.group import BASE, IDENTITY, Point, small
from engine.voting.encryption.trustees import BadTrustee, KeyShare, Partial, combine, verify_partial

THREADS = 2
THREADED_FROM = 10_000
"""Ballots from which a tally is added up on ``THREADS`` threads (below, starting them costs more than it saves)."""
AREA_UNITS = 100
"""Weights by floor area count in 0.01 m²: ``"86.35"`` weighs 8635."""
AREA = re.compile(r"(\d+)(?:\.(\d{1,2}))?")


def weight_units(area: int | str) -> int:
    """An owner's floor area (an int or a decimal string of m², as ballots carry it) in hundredths of m²."""
    match = AREA.fullmatch(area) if isinstance(area, str) else None
    if type(area) is int:
        units = area * AREA_UNITS
    elif match:
        units = int(match[1]) * AREA_UNITS + int((match[2] or "").ljust(2, "0"))
    else:
        raise ValueError("an area is a positive integer or a decimal with at most two decimals, e.g. \"86.35\"")
    if units <= 0:
        raise ValueError("an area must be positive")
    return units


def homomorphic_tally(election: Election, counted: Sequence[tuple[Ballot, int]]) -> list[Ciphertext]:
    """Per slot, Σ weight·ciphertext over the counted ballots (each credential's last, already verified)."""
    width = len(election.slots)
    return weighted_sum(sums_by_weight(width, [(b.ciphertexts, w) for b, w in counted]), width)


def sums_by_weight(width: int, counted: Iterable[tuple[Sequence[Ciphertext], int]],
                   threads: int = THREADS) -> dict[int, list[Ciphertext]]:
    """Per weight, per slot, Σ ciphertext over the counted ballots' ciphertexts of that weight.

    Ballots of equal weight are added first and multiplied once (Σ w·c = w·Σ c): owners' flats come in a few
    sizes, so a weighted tally costs additions, not one multiplication per ballot; and an owners' vote's heads and
    weights come from the same sums (``heads_sum`` and ``weighted_sum``), so its ballots are added up once.

    A big tally is split between ``threads`` threads: libsodium adds without the GIL (rbcl calls it through
    ctypes), so two threads add up 100,000 ballots about 1.5 times faster on two cores. The sums are the same
    whatever the split: the group is commutative and every point has one encoding."""
    counted = list(counted)
    if threads < 2 or len(counted) < THREADED_FROM:
        return _sums_by_weight(width, counted)
    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(partial(_sums_by_weight, width), [counted[i::threads] for i in range(threads)]))
    merged = parts[0]
    for part in parts[1:]:
        for weight, group in part.items():
            mine = merged.get(weight)
            merged[weight] = group if mine is None else [s + c for s, c in zip(mine, group)]
    return merged


def _sums_by_weight(width: int, counted: Sequence[tuple[Sequence[Ciphertext], int]]) -> dict[int, list[Ciphertext]]:
    by_weight: dict[int, list[Ciphertext]] = {}
    for ciphertexts, weight in counted:
        if len(ciphertexts) != width:
            raise ValueError("a ballot with the wrong number of ciphertexts")
        group = by_weight.get(weight)
        by_weight[weight] = list(ciphertexts) if group is None else [s + c for s, c in zip(group, ciphertexts)]
    return by_weight


def weighted_sum(by_weight: dict[int, list[Ciphertext]], width: int) -> list[Ciphertext]:
    """Σ weight·(the sums of that weight): the weighted tally."""
    sums = [ZERO] * width
    for weight, group in by_weight.items():
        sums = [s + g.times(weight) for s, g in zip(sums, group)]
    return sums


def heads_sum(by_weight: dict[int, list[Ciphertext]], width: int) -> list[Ciphertext]:
    """Σ (the sums of every weight): the tally by heads."""
    sums = [ZERO] * width
    for group in by_weight.values():
        sums = [s + g for s, g in zip(sums, group)]
    return sums


def stored_ciphertexts(ballot: dict[str, Any]) -> list[Ciphertext]:
    """A stored ballot's ciphertexts, decoded and validated, without the proofs the cast checked already: all that
    the tally needs of it."""
    return [Ciphertext.from_json(c) for c in encoding.items(ballot["ciphertexts"], "ciphertexts")]


class DiscreteLogError(ValueError):
    """G·m = P has no m in [0, bound]: a wrong factor or a corrupt tally."""


@lru_cache(maxsize=4)
def _baby_steps(width: int) -> dict[bytes, int]:
    table: dict[bytes, int] = {}
    point = IDENTITY
    for j in range(width):
        table[point.encode()] = j
        point = point + BASE
    return table


def discrete_log(target: Point, bound: int) -> int:
    """The m in [0, bound] with G·m = target, by baby-step giant-step: ⌈√(bound+1)⌉ steps of each kind."""
    if bound < 0:
        raise ValueError("bound must be ≥ 0")
    width = math.isqrt(bound) + 1
    table = _baby_steps(width)
    giant = small(width)
    point = target
    for i in range(width + 1):
        j = table.get(point.encode())
        if j is not None:
            m = i * width + j
            if m <= bound:
                return m
            break
        point = point - giant
    raise DiscreteLogError(f"the sum is not in [0, {bound}]")


@dataclass
class Decryption:
    """The decrypted sums, which trustees' factors were used, and which were set aside (and why)."""

    counts: list[int]
    used: list[int]
    bad: dict[int, str] = field(default_factory=dict)


def decrypt_tally(election: Election, sums: Sequence[Ciphertext], shares: Sequence[KeyShare],
                  partials: Sequence[Partial], bound: int) -> Decryption:
    """Check every trustee's factors against their published key, set the bad ones aside (named), combine any
    k good ones, and take the bounded discrete log of each slot's sum."""
    keys = {s.trustee: s for s in shares}
    good, bad = [], {}
    for partial in partials:
        try:
            if partial.trustee not in keys:
                raise BadTrustee(partial.trustee, "not a trustee of this vote")
            verify_partial(election.fingerprint, keys[partial.trustee], sums, partial)
            good.append(partial)
        except BadTrustee as exc:
            bad[exc.trustee] = exc.reason
    factors = combine(good, election.threshold)
    used = list(dict.fromkeys(p.trustee for p in good))[:election.threshold]
    counts = [discrete_log(s.beta - f, bound) for s, f in zip(sums, factors)]
    return Decryption(counts, used, bad)


def check_counts(sums: Sequence[Ciphertext], factors: Sequence[Point], counts: Sequence[int]) -> bool:
    """A published count checks when G·count = B − F: one multiplication per slot, no search."""
    return all(small(m) == s.beta - f for s, f, m in zip(sums, factors, counts))
