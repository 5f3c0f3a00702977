"""Hashing to scalars with domain separation: RFC 9380 ``expand_message_xmd`` (SHA-512) to 64 bytes, read
little-endian and reduced mod ℓ — RFC 9497's ``HashToScalar`` for ristretto255, so that libsodium's and
@noble/curves' conventions agree. The DST names the protocol version, the group and the proof kind, so a
proof of one kind, version or group never verifies as another (Belenios's fix for Cortier–Gaudry–Yang 2020).

Parts are each prefixed by their length (4 bytes, big-endian): no two lists of parts hash the same message.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from engine.voting.encryption.group import GROUP, L, Point, Scalar

PROTOCOL = "yishi-e2e/1"
KINDS = ("zero-one", "range", "signature", "dealer-pok", "key-share-pok", "decryption")


def dst(kind: str) -> bytes:
    if kind not in KINDS:
        raise ValueError(f"unknown proof kind {kind!r}")
    return f"{PROTOCOL}/{GROUP}/{kind}".encode()


def expand_message_xmd(msg: bytes, dst_: bytes, length: int) -> bytes:
    """RFC 9380 §5.3.1 with SHA-512 (b = 64 bytes, block r = 128 bytes)."""
    b, r = 64, 128
    ell = -(-length // b)
    if ell > 255 or length > 65535 or len(dst_) > 255:
        raise ValueError("expand_message_xmd: output or DST too long")
    dst_prime = dst_ + bytes([len(dst_)])
    b0 = hashlib.sha512(bytes(r) + msg + length.to_bytes(2, "big") + b"\x00" + dst_prime).digest()
    blocks = [hashlib.sha512(b0 + b"\x01" + dst_prime).digest()]
    for i in range(2, ell + 1):
        mixed = bytes(x ^ y for x, y in zip(b0, blocks[-1]))
        blocks.append(hashlib.sha512(mixed + bytes([i]) + dst_prime).digest())
    return b"".join(blocks)[:length]


def encode_parts(parts: tuple[bytes | str | int | Point | Scalar, ...]) -> bytes:
    """Points and scalars as their 32 bytes, texts as UTF-8, integers as 8 bytes big-endian; each length-prefixed."""
    out = bytearray()
    for part in parts:
        if isinstance(part, (Point, Scalar)):
            data = part.encode()
        elif isinstance(part, str):
            data = part.encode()
        elif isinstance(part, int) and not isinstance(part, bool):
            data = part.to_bytes(8, "big")
        elif isinstance(part, bytes):
            data = part
        else:
            raise TypeError(f"cannot hash {type(part).__name__}")
        out += len(data).to_bytes(4, "big") + data
    return bytes(out)


def hash_to_scalar(kind: str, *parts: bytes | str | int | Point | Scalar) -> Scalar:
    uniform = expand_message_xmd(encode_parts(parts), dst(kind), 64)
    return Scalar(int.from_bytes(uniform, "little") % L)


def canonical_json(value: Any) -> bytes:
    """RFC 8785-compatible for Yishi's objects (strings, integers, lists, objects with ASCII keys)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()
