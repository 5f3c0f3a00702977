"""Zero-knowledge proofs, non-interactive by STRONG Fiat–Shamir: each challenge hashes a context (the election
fingerprint, the voter's credential, …), the whole statement and the commitments (Bernhard–Pereira–Warinschi
2012: hashing the commitments alone is unsound against an adaptive prover).

A proof is stored as challenge/response pairs; the verifier recomputes the commitments from them and checks
that the challenges add up to the hash. Responses are s = w − x·c, so a commitment is G·s + X·c.

- ``schnorr``: knowledge of x with X = G·x (key shares, dealers' constant terms, ballot signatures);
- ``chaum_pedersen``: log_G X = log_A F (a trustee's decryption factor, checked against its verification key);
- ``disjunctive``: (α, β) encrypts one of some values v under y, i.e. log_G α = log_y (β − G·v) for some v
  (Cramer–Damgård–Schoenmakers OR proofs; the 0/1 proof of a slot and the overall range proof of a ballot).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.voting.encryption import encoding
from engine.voting.encryption.elgamal import Ciphertext
from engine.voting.encryption.group import Point, Scalar, base_mul, random_scalar, small
from engine.voting.encryption.hashing import hash_to_scalar

Part = bytes | str | int | Point | Scalar


@dataclass(frozen=True, slots=True)
class Response:
    """One challenge/response pair."""

    c: Scalar
    s: Scalar

    def to_json(self) -> dict[str, str]:
        return {"c": encoding.hx(self.c), "s": encoding.hx(self.s)}

    @staticmethod
    def from_json(value: Any) -> Response:
        value = encoding.fields(value, {"c", "s"}, "proof")
        return Response(encoding.scalar(value["c"], "c"), encoding.scalar(value["s"], "s"))


def responses_to_json(proof: Sequence[Response]) -> list[dict[str, str]]:
    return [r.to_json() for r in proof]


def responses_from_json(value: Any, length: int | None, what: str) -> list[Response]:
    return [Response.from_json(r) for r in encoding.items(value, what, length)]


# Schnorr proof of knowledge (and signature: the message is part of the context)

def schnorr_prove(kind: str, context: Sequence[Part], x: Scalar, rng: Callable[[], Scalar] = random_scalar) -> Response:
    w = rng()
    key = base_mul(x)
    c = hash_to_scalar(kind, *context, key, base_mul(w))
    return Response(c, w - x * c)


def schnorr_verify(kind: str, context: Sequence[Part], key: Point, proof: Response) -> bool:
    commitment = base_mul(proof.s) + key * proof.c
    return hash_to_scalar(kind, *context, key, commitment) == proof.c


# Chaum–Pedersen: log_G X = log_A F

def chaum_pedersen_prove(kind: str, context: Sequence[Part], x: Scalar, base: Point,
                         rng: Callable[[], Scalar] = random_scalar) -> Response:
    w = rng()
    key, factor = base_mul(x), base * x
    c = hash_to_scalar(kind, *context, key, base, factor, base_mul(w), base * w)
    return Response(c, w - x * c)


def chaum_pedersen_verify(kind: str, context: Sequence[Part], key: Point, base: Point, factor: Point,
                          proof: Response) -> bool:
    a = base_mul(proof.s) + key * proof.c
    b = base * proof.s + factor * proof.c
    return hash_to_scalar(kind, *context, key, base, factor, a, b) == proof.c


# Disjunctive Chaum–Pedersen: (α, β) encrypts one of ``values`` under y

def disjunctive_prove(kind: str, context: Sequence[Part], key: Point, ct: Ciphertext, values: Sequence[int],
                      m: int, r: Scalar, rng: Callable[[], Scalar] = random_scalar) -> list[Response]:
    """Simulate every branch but the true one (value m, randomness r), then answer it with the challenge left."""
    if m not in values:
        raise ValueError("the plaintext is not among the values this proof allows")
    real = list(values).index(m)
    simulated: dict[int, Response] = {}
    commitments: list[Point] = []
    w = rng()
    for i, v in enumerate(values):
        if i == real:
            commitments += [base_mul(w), key * w]
        else:
            simulated[i] = Response(rng(), rng())
            commitments += _commitments(key, ct, v, simulated[i])
    c = hash_to_scalar(kind, *context, ct.alpha, ct.beta, *commitments)
    c_real = c - _sum(s.c for s in simulated.values())
    return [simulated[i] if i != real else Response(c_real, w - r * c_real) for i in range(len(values))]


def disjunctive_verify(kind: str, context: Sequence[Part], key: Point, ct: Ciphertext, values: Sequence[int],
                       proof: Sequence[Response]) -> bool:
    if len(proof) != len(values):
        return False
    commitments = [p for v, branch in zip(values, proof) for p in _commitments(key, ct, v, branch)]
    return hash_to_scalar(kind, *context, ct.alpha, ct.beta, *commitments) == _sum(b.c for b in proof)


def _commitments(key: Point, ct: Ciphertext, v: int, branch: Response) -> list[Point]:
    return [base_mul(branch.s) + ct.alpha * branch.c, key * branch.s + (ct.beta - small(v)) * branch.c]


def _sum(scalars: Any) -> Scalar:
    total = Scalar(0)
    for s in scalars:
        total = total + s
    return total
