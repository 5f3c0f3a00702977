"""A Merkle tree over chain heads, with inclusion proofs, as Certificate Transparency builds it.

The tree of n leaves splits at the largest power of two below n (RFC 9162, section 2.1), so a
proof is at most log2(n) hashes and a community's bundle can prove its instances' heads are in a
deployment-wide checkpoint without disclosing any other community's instances.
"""

from __future__ import annotations

import hashlib

from engine.bpmn.workflows import canonical_json

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def leaf_hash(head: list[object]) -> str:
    """A leaf is one chain head: [community id, instance id, sequence number, hash]."""
    return hashlib.sha256(b"\x00" + canonical_json(head).encode()).hexdigest()


def _node(left: str, right: str) -> str:
    return hashlib.sha256(b"\x01" + bytes.fromhex(left) + bytes.fromhex(right)).hexdigest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root(leaves: list[str]) -> str:
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node(root(leaves[:k]), root(leaves[k:]))


def inclusion_paths(leaves: list[str]) -> tuple[str, list[list[str]]]:
    """The root and, for every leaf, the sibling hashes from it up to the root, nearest first.

    All paths in one pass (each subtree's root computed once): a checkpoint proves many heads.
    """
    if not leaves:
        return EMPTY_ROOT, []
    if len(leaves) == 1:
        return leaves[0], [[]]
    k = _split(len(leaves))
    left, left_paths = inclusion_paths(leaves[:k])
    right, right_paths = inclusion_paths(leaves[k:])
    return _node(left, right), [p + [right] for p in left_paths] + [p + [left] for p in right_paths]


def root_from_path(leaf: str, index: int, size: int, path: list[str]) -> str | None:
    """The root a proof leads to (RFC 9162, section 2.1.3.2), or None when the proof cannot fit the tree."""
    if not 0 <= index < size:
        return None
    fn, sn, value = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            value = _node(sibling, value)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            value = _node(value, sibling)
        fn, sn = fn >> 1, sn >> 1
    return value if sn == 0 else None
