"""The pinned JSON encoding: every point, scalar and hash is lowercase hexadecimal (docs/ballot-encryption.md §1).

Decoders refuse upper case, wrong lengths and non-canonical values, so each object has exactly one encoding
and a tracker (a hash of the canonical JSON) names exactly one ballot.
"""

from __future__ import annotations

import re
from typing import Any

from engine.voting.encryption.group import EncodingError, Point, Scalar

HEX64 = re.compile(r"[0-9a-f]{64}")


def hex_bytes(value: Any, what: str = "value") -> bytes:
    if type(value) is not str or not HEX64.fullmatch(value):
        raise EncodingError(f"{what}: 64 lowercase hexadecimal characters")
    return bytes.fromhex(value)


def point(value: Any, what: str = "point", allow_identity: bool = False) -> Point:
    return Point.decode(hex_bytes(value, what), allow_identity)


def scalar(value: Any, what: str = "scalar") -> Scalar:
    return Scalar.decode(hex_bytes(value, what))


def hx(value: Point | Scalar) -> str:
    return value.encode().hex()


def fields(value: Any, keys: set[str], what: str) -> dict[str, Any]:
    """An object with exactly these keys: an extra key would let two JSON texts carry one ballot."""
    if not isinstance(value, dict) or set(value) != keys:
        raise EncodingError(f"{what}: an object with exactly {', '.join(sorted(keys))}")
    return value


def items(value: Any, what: str, length: int | None = None) -> list[Any]:
    if type(value) is not list or (length is not None and len(value) != length):
        raise EncodingError(f"{what}: a list" + (f" of {length}" if length is not None else ""))
    return value
