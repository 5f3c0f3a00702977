"""k-of-n trustees: joint-Feldman distributed key generation and threshold decryption (docs §4, §8).

A dealer's polynomial and the shares it deals are secrets of the trustee client; everything here that returns
them is for that client. What the server keeps and the board shows is the ``Dealing`` (commitments and a
proof of knowledge of the constant term), each trustee's ``KeyShare`` (verification key and proof), and the
decryption ``Partial``s — never a secret. Every check that fails says WHICH trustee is at fault.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.voting.encryption import encoding
from engine.voting.encryption.elgamal import Ciphertext
from engine.voting.encryption.group import IDENTITY, Point, Scalar, base_mul, random_scalar, total
from engine.voting.encryption.proofs import (
    Response, chaum_pedersen_prove, chaum_pedersen_verify, schnorr_prove, schnorr_verify,
)


class BadTrustee(Exception):
    """A trustee's published data does not check: the trustee is named, so the others can go on without them."""

    def __init__(self, trustee: int, reason: str):
        super().__init__(f"trustee {trustee}: {reason}")
        self.trustee = trustee
        self.reason = reason


@dataclass(frozen=True)
class Dealing:
    """What dealer ``dealer`` publishes: G·a_m for each coefficient, and a proof of knowledge of a_0 whose
    challenge also hashes the other commitments, so that no commitment can be altered on its own."""

    dealer: int
    commitments: list[Point]
    proof: Response

    def to_json(self) -> dict[str, Any]:
        return {"dealer": self.dealer, "commitments": [encoding.hx(a) for a in self.commitments],
                "proof": self.proof.to_json()}

    @staticmethod
    def from_json(value: Any) -> Dealing:
        value = encoding.fields(value, {"dealer", "commitments", "proof"}, "dealing")
        raw = encoding.items(value["commitments"], "commitments")
        if not raw:
            raise encoding.EncodingError("commitments: at least one")
        commitments = [encoding.point(raw[0], "commitments[0]")]
        commitments += [encoding.point(a, f"commitments[{m}]", allow_identity=True) for m, a in enumerate(raw[1:], 1)]
        return Dealing(_index(value["dealer"]), commitments, Response.from_json(value["proof"]))


@dataclass(frozen=True)
class KeyShare:
    """Trustee ``trustee``'s verification key X_j = G·x_j and its proof of knowledge of x_j."""

    trustee: int
    key: Point
    proof: Response

    def to_json(self) -> dict[str, Any]:
        return {"trustee": self.trustee, "key": encoding.hx(self.key), "proof": self.proof.to_json()}

    @staticmethod
    def from_json(value: Any) -> KeyShare:
        value = encoding.fields(value, {"trustee", "key", "proof"}, "key share")
        return KeyShare(_index(value["trustee"]), encoding.point(value["key"], "key"), Response.from_json(value["proof"]))


@dataclass(frozen=True)
class Partial:
    """Trustee ``trustee``'s decryption factors, one per tallied ciphertext, each with its Chaum–Pedersen proof."""

    trustee: int
    factors: list[Point]
    proofs: list[Response]

    def to_json(self) -> dict[str, Any]:
        return {"trustee": self.trustee, "factors": [encoding.hx(f) for f in self.factors],
                "proofs": [p.to_json() for p in self.proofs]}

    @staticmethod
    def from_json(value: Any) -> Partial:
        value = encoding.fields(value, {"trustee", "factors", "proofs"}, "partial decryption")
        factors = [encoding.point(f, "factor", allow_identity=True) for f in encoding.items(value["factors"], "factors")]
        proofs = [Response.from_json(p) for p in encoding.items(value["proofs"], "proofs", len(factors))]
        return Partial(_index(value["trustee"]), factors, proofs)


def _index(value: Any) -> int:
    if type(value) is not int or not 1 <= value <= 1000:
        raise encoding.EncodingError("a trustee's number is an integer from 1")
    return value


# Dealing (the trustee client)

def deal(vote: str, dealer: int, k: int, n: int,
         rng: Callable[[], Scalar] = random_scalar) -> tuple[list[Scalar], Dealing, dict[int, Scalar]]:
    """A random polynomial of degree k−1, its public dealing, and the share f(j) for each trustee j = 1..n."""
    if not 1 <= k <= n or not 1 <= dealer <= n:
        raise ValueError("need 1 ≤ k ≤ n and 1 ≤ dealer ≤ n")
    coefficients = [rng() for _ in range(k)]
    commitments = [base_mul(a) for a in coefficients]
    proof = schnorr_prove("dealer-pok", (vote, dealer, *commitments[1:]), coefficients[0], rng)
    shares = {j: evaluate(coefficients, j) for j in range(1, n + 1)}
    return coefficients, Dealing(dealer, commitments, proof), shares


def evaluate(coefficients: Sequence[Scalar], j: int) -> Scalar:
    result = Scalar(0)
    for a in reversed(coefficients):
        result = result * Scalar(j) + a
    return result


def committed_value(commitments: Sequence[Point], j: int) -> Point:
    """G·f(j) computed from the commitments alone: Σ_m A_m·j^m."""
    return total([a * Scalar(j**m) for m, a in enumerate(commitments)])


def verify_dealing(vote: str, dealing: Dealing, k: int) -> None:
    """A dealing has k commitments, a non-identity constant term and a valid proof; else its dealer is named."""
    if len(dealing.commitments) != k:
        raise BadTrustee(dealing.dealer, f"{len(dealing.commitments)} commitments, not {k}")
    if dealing.commitments[0] == IDENTITY:
        raise BadTrustee(dealing.dealer, "the constant term's commitment is the identity")
    if not schnorr_verify("dealer-pok", (vote, dealing.dealer, *dealing.commitments[1:]), dealing.commitments[0],
                          dealing.proof):
        raise BadTrustee(dealing.dealer, "the proof of knowledge of the constant term fails")


def verify_share(dealing: Dealing, j: int, share: Scalar) -> bool:
    """Recipient j's check of the share it got from the dealer: G·s_ij = Σ_m A_im·j^m."""
    return base_mul(share) == committed_value(dealing.commitments, j)


def resolve_complaint(dealing: Dealing, j: int, revealed: Scalar | None) -> int | None:
    """Trustee j complained about dealer i's share; i answered by revealing it (or did not: None).

    Returns the trustee at fault — the dealer if the revealed share does not check or was not revealed — or None
    when the complaint is dismissed (j then uses the revealed share). A disqualified dealer means the DKG starts
    again without them, with fresh polynomials from everyone (docs §4)."""
    if revealed is None or not verify_share(dealing, j, revealed):
        return dealing.dealer
    return None


def key_share(vote: str, j: int, shares: Sequence[Scalar],
              rng: Callable[[], Scalar] = random_scalar) -> tuple[Scalar, KeyShare]:
    """Trustee j's secret x_j = Σ_i s_ij (kept on their device) and its published verification key with proof."""
    x = Scalar(0)
    for s in shares:
        x = x + s
    return x, KeyShare(j, base_mul(x), schnorr_prove("key-share-pok", (vote, j), x, rng))


def verify_key_share(vote: str, dealings: Sequence[Dealing], share: KeyShare) -> None:
    """The published X_j must be Σ_i G·f_i(j) from the commitments, and its proof must hold; else j is named."""
    expected = total([committed_value(d.commitments, share.trustee) for d in dealings])
    if share.key != expected:
        raise BadTrustee(share.trustee, "the verification key does not match the dealers' commitments")
    if not schnorr_verify("key-share-pok", (vote, share.trustee), share.key, share.proof):
        raise BadTrustee(share.trustee, "the proof of knowledge of the key share fails")


def election_key(dealings: Sequence[Dealing]) -> Point:
    """y = Σ_i A_i0: no one ever holds its secret."""
    return total([d.commitments[0] for d in dealings])


# Threshold decryption

def decrypt_partially(fingerprint: bytes, j: int, x: Scalar, ciphertexts: Sequence[Ciphertext],
                      rng: Callable[[], Scalar] = random_scalar) -> Partial:
    """Trustee j's factor α·x_j for each ciphertext, each proved against X_j = G·x_j."""
    factors, proofs = [], []
    for ct in ciphertexts:
        factors.append(ct.alpha * x)
        proofs.append(chaum_pedersen_prove("decryption", (fingerprint, ct.beta), x, ct.alpha, rng))
    return Partial(j, factors, proofs)


def verify_partial(fingerprint: bytes, share: KeyShare, ciphertexts: Sequence[Ciphertext], partial: Partial) -> None:
    """Each factor's proof against the trustee's PUBLISHED verification key; a failure names the trustee."""
    if partial.trustee != share.trustee:
        raise BadTrustee(partial.trustee, "checked against another trustee's key")
    if len(partial.factors) != len(ciphertexts):
        raise BadTrustee(partial.trustee, f"{len(partial.factors)} factors for {len(ciphertexts)} ciphertexts")
    for t, (ct, factor, proof) in enumerate(zip(ciphertexts, partial.factors, partial.proofs)):
        if not chaum_pedersen_verify("decryption", (fingerprint, ct.beta), share.key, ct.alpha, factor, proof):
            raise BadTrustee(partial.trustee, f"the decryption proof of ciphertext {t} fails")


def lagrange(indices: Sequence[int], j: int) -> Scalar:
    """λ_j at 0 over the set of trustees ``indices``: Π_{m≠j} m / (m − j) mod ℓ."""
    numerator, denominator = Scalar(1), Scalar(1)
    for m in indices:
        if m != j:
            numerator = numerator * Scalar(m)
            denominator = denominator * Scalar(m - j)
    return numerator * denominator.inverse()


def combine(partials: Sequence[Partial], k: int) -> list[Point]:
    """Σ_j λ_j·F_j per ciphertext over the first k distinct trustees: the factor y·r of each sum.

    Fewer than k distinct trustees are refused: k−1 factors interpolate to a wrong value (the threshold)."""
    chosen: dict[int, Partial] = {}
    for p in partials:
        chosen.setdefault(p.trustee, p)
    if len(chosen) < k:
        raise ValueError(f"{len(chosen)} trustees decrypted; {k} are needed")
    used = list(chosen.values())[:k]
    indices = [p.trustee for p in used]
    weights = {p.trustee: lagrange(indices, p.trustee) for p in used}
    count = len(used[0].factors)
    return [total([p.factors[t] * weights[p.trustee] for p in used]) for t in range(count)]
