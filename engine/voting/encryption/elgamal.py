"""Exponential ElGamal on ristretto255: (α, β) = (G·r, y·r + G·m). Adding ciphertexts adds plaintexts, which is
the whole point (the tally is a sum); the price is a discrete log at the end, small since m is a count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.voting.encryption import encoding
from engine.voting.encryption.group import IDENTITY, Point, Scalar, base_mul, random_scalar, small


@dataclass(frozen=True, slots=True)
class Ciphertext:
    alpha: Point
    beta: Point

    def __add__(self, other: Ciphertext) -> Ciphertext:
        return Ciphertext(self.alpha + other.alpha, self.beta + other.beta)

    def times(self, weight: int) -> Ciphertext:
        """The ciphertext of weight·m: how an owner's floor area weighs their ballot (Belenios's weights)."""
        if weight == 1:
            return self
        k = Scalar(weight)
        return Ciphertext(self.alpha * k, self.beta * k)

    def to_json(self) -> dict[str, str]:
        return {"alpha": encoding.hx(self.alpha), "beta": encoding.hx(self.beta)}

    @staticmethod
    def from_json(value: Any, allow_identity: bool = False) -> Ciphertext:
        """A ballot's ciphertexts refuse the identity (α = identity would mean r = 0: the plaintext in clear);
        a tally may be anything."""
        value = encoding.fields(value, {"alpha", "beta"}, "ciphertext")
        return Ciphertext(encoding.point(value["alpha"], "alpha", allow_identity),
                          encoding.point(value["beta"], "beta", allow_identity))


ZERO = Ciphertext(IDENTITY, IDENTITY)
"""The trivial encryption of 0 (r = 0): the start of a sum, never a ballot."""


def encrypt(key: Point, m: int, rng: Callable[[], Scalar] = random_scalar) -> tuple[Ciphertext, Scalar]:
    """Encrypt m under the election key; return the randomness too (the proofs and a Benaloh audit need it)."""
    r = rng()
    return Ciphertext(base_mul(r), key * r + small(m)), r


def total(ciphertexts: list[Ciphertext]) -> Ciphertext:
    result = ZERO
    for c in ciphertexts:
        result = result + c
    return result


def open_with_randomness(key: Point, c: Ciphertext, r: Scalar, values: range) -> int | None:
    """The plaintext of c given its randomness, if it is one of ``values`` (a Benaloh audit); None otherwise."""
    if base_mul(r) != c.alpha:
        return None
    gm = c.beta - key * r
    return next((m for m in values if small(m) == gm), None)
