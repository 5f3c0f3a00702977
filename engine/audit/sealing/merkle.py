"""A Merkle tree over chain heads, with inclusion proofs, as Certificate Transparency builds it.

The tree of n leaves splits at the largest power of two below n (RFC 9162, section 2.1), so a
proof is at most log2(n) hashes and a community's bundle can prove its instances' heads are in a
deployment-wide checkpoint without disclosing any other community's instances.

A checkpoint of format 2 uses such a tree within each community, and a *blinded sparse* tree above
them: fixed depth, one leaf per community at the position of its id, empty subtrees replaced by
pseudorandom hashes. Its proofs have the same length whatever the number of communities, and a
sibling hash says nothing of what it covers (``engine.audit.sealing.checkpoints`` explains why).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

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


# ---- a blinded sparse tree: one leaf per position, the number of leaves hidden --------------------

Filler = Callable[[int, int], str]
"""The hash standing in for the empty subtree at (level, index): pseudorandom, so that an empty
subtree looks like a full one to whoever does not hold the secret it is derived from."""


def sparse_levels(leaves: dict[int, str], depth: int, filler: Filler) -> list[dict[int, str]]:
    """Every non-empty node, level by level (leaves first, the root last), of a tree of fixed ``depth``
    in which each leaf sits at its own position: O(leaves × depth) hashes, whatever the positions."""
    if any(not 0 <= position < 2 ** depth for position in leaves):
        raise ValueError(f"a position outside a tree of depth {depth}")
    levels = [dict(leaves)]
    for level in range(depth):
        below = levels[-1]
        parents = {index >> 1 for index in below}
        levels.append({p: _node(_at(below, level, 2 * p, filler), _at(below, level, 2 * p + 1, filler)) for p in parents})
    return levels


def _at(nodes: dict[int, str], level: int, index: int, filler: Filler) -> str:
    return nodes[index] if index in nodes else filler(level, index)


def sparse_root(levels: list[dict[int, str]], filler: Filler) -> str:
    return levels[-1].get(0) or filler(len(levels) - 1, 0)


def sparse_path(levels: list[dict[int, str]], position: int, filler: Filler) -> list[str]:
    """The siblings from the leaf at ``position`` up to the root, nearest first: always ``depth`` of them."""
    return [_at(nodes, level, (position >> level) ^ 1, filler) for level, nodes in enumerate(levels[:-1])]


def root_from_sparse_path(leaf: str, position: int, path: list[str], depth: int) -> str | None:
    """The root a sparse proof leads to, or None when it cannot fit the tree: the position alone says
    left or right at each level, so neither the proof nor the verifier needs the number of leaves."""
    if len(path) != depth or not 0 <= position < 2 ** depth:
        return None
    value = leaf
    for level, sibling in enumerate(path):
        value = _node(sibling, value) if position >> level & 1 else _node(value, sibling)
    return value
