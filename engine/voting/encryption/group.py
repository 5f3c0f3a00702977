"""ristretto255 (RFC 9496) through libsodium (``rbcl``): typed points and scalars that are valid by construction.

Why a wrapper at all: ``rbcl``'s ``add``/``sub`` ignore libsodium's error on an invalid point, its plain scalar
multiplications raise when the result is the identity, and its ``scalar_reduce`` takes 32 bytes where libsodium
reads 64. So a ``Point`` can only be made by decoding with ``crypto_core_ristretto255_is_valid_point`` (or by
arithmetic on valid points), multiplications use the ``_allow_scalar_zero`` variants (g^0 is legitimate in
exponential ElGamal), and scalars are Python integers reduced mod ℓ. No curve arithmetic is written here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import lru_cache

import rbcl

GROUP = "ristretto255"
L = 2**252 + 27742317777372353535851937790883648493
"""The prime order ℓ of ristretto255."""
SIZE = 32


class EncodingError(ValueError):
    """A point or scalar that is not the canonical encoding of a valid value (or is refused where it stands)."""


@dataclass(frozen=True, slots=True)
class Scalar:
    """An integer mod ℓ; encoded in 32 bytes little-endian (libsodium's convention)."""

    value: int

    def __post_init__(self) -> None:
        if not 0 <= self.value < L:
            object.__setattr__(self, "value", self.value % L)

    @staticmethod
    def decode(data: bytes) -> Scalar:
        """Refuse a wrong length and a value ≥ ℓ: each scalar has one encoding, so a proof has one form."""
        if type(data) is not bytes or len(data) != SIZE:
            raise EncodingError("a scalar is 32 bytes")
        value = int.from_bytes(data, "little")
        if value >= L:
            raise EncodingError("a scalar must be reduced modulo the group order")
        return Scalar(value)

    def encode(self) -> bytes:
        return self.value.to_bytes(SIZE, "little")

    def __add__(self, other: Scalar) -> Scalar:
        return Scalar((self.value + other.value) % L)

    def __sub__(self, other: Scalar) -> Scalar:
        return Scalar((self.value - other.value) % L)

    def __mul__(self, other: Scalar) -> Scalar:
        return Scalar((self.value * other.value) % L)

    def __neg__(self) -> Scalar:
        return Scalar(-self.value % L)

    def inverse(self) -> Scalar:
        if not self.value:
            raise ZeroDivisionError("zero has no inverse mod ℓ")
        return Scalar(pow(self.value, -1, L))


def random_scalar() -> Scalar:
    """A uniformly random non-zero scalar from the operating system's CSPRNG."""
    return Scalar(secrets.randbelow(L - 1) + 1)


@dataclass(frozen=True, slots=True)
class Point:
    """A ristretto255 element, held as its canonical encoding (equal elements ⇔ equal bytes).

    Build one only with ``Point.decode``, ``base_mul``, ``from_hash`` or arithmetic on points: the constructor
    is private to this module, which is what makes ``add``/``sub`` on unchecked bytes impossible.
    """

    data: bytes

    @staticmethod
    def decode(data: bytes, allow_identity: bool = False) -> Point:
        """Refuse what libsodium refuses (non-canonical, not on the curve) and, unless allowed, the identity."""
        if type(data) is not bytes or len(data) != SIZE:
            raise EncodingError("a point is 32 bytes")
        # rbcl's bundled libsodium ignores bit 255, so it accepts a second encoding of every point (measured):
        # refuse it here, as RFC 9496 requires, or a ballot could be re-encoded under another tracker.
        if data[31] & 0x80 or not rbcl.crypto_core_ristretto255_is_valid_point(data):
            raise EncodingError("not the canonical encoding of a ristretto255 point")
        if not allow_identity and data == IDENTITY_BYTES:
            raise EncodingError("the identity is refused here")
        return Point(data)

    def encode(self) -> bytes:
        return self.data

    def is_identity(self) -> bool:
        return self.data == IDENTITY_BYTES

    def __add__(self, other: Point) -> Point:
        # Adding the identity changes nothing, and both encodings are canonical: skip libsodium's decode and
        # encode (16 µs). Sums start from the identity and a 0/1 proof subtracts G·0, so this is frequent.
        if other.data == IDENTITY_BYTES:
            return self
        if self.data == IDENTITY_BYTES:
            return other
        return Point(rbcl.crypto_core_ristretto255_add(self.data, other.data))

    def __sub__(self, other: Point) -> Point:
        if other.data == IDENTITY_BYTES:
            return self
        return Point(rbcl.crypto_core_ristretto255_sub(self.data, other.data))

    def __mul__(self, scalar: Scalar) -> Point:
        return Point(rbcl.crypto_scalarmult_ristretto255_allow_scalar_zero(scalar.encode(), self.data))

    def __rmul__(self, scalar: Scalar) -> Point:
        return self * scalar


IDENTITY_BYTES = bytes(SIZE)
IDENTITY = Point(IDENTITY_BYTES)
BASE = Point(rbcl.crypto_scalarmult_ristretto255_base_allow_scalar_zero((1).to_bytes(SIZE, "little")))
"""G, RFC 9496's generator."""


def base_mul(scalar: Scalar) -> Point:
    """G·s, through libsodium's fixed-base multiplication (about three times faster than a variable base)."""
    return Point(rbcl.crypto_scalarmult_ristretto255_base_allow_scalar_zero(scalar.encode()))


@lru_cache(maxsize=1024)
def small(m: int) -> Point:
    """G·m for a plaintext m (m may be 0: the identity) — exponential ElGamal's encoding of a count.

    Remembered: every proof of a ballot subtracts G·0 or G·1 from a ciphertext, a verifier does it 7 times per
    yes/no/abstain ballot, and a multiplication costs more than a lookup."""
    return base_mul(Scalar(m))


def from_hash(uniform: bytes) -> Point:
    """RFC 9496's element derivation from 64 uniform bytes (libsodium ``from_hash``)."""
    if type(uniform) is not bytes or len(uniform) != 64:
        raise EncodingError("from_hash takes 64 bytes")
    return Point(rbcl.crypto_core_ristretto255_from_hash(uniform))


def total(points: list[Point]) -> Point:
    """The sum of points (the identity for none)."""
    result = IDENTITY
    for point in points:
        result = result + point
    return result
