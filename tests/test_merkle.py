"""The checkpoint tree: every head's proof leads to the signed root, and no other head's does."""

from __future__ import annotations

import hashlib

import pytest

from engine.audit.sealing import merkle


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31])
def test_each_proof_leads_its_own_head_and_only_it_to_the_root(size: int) -> None:
    leaves = [merkle.leaf_hash([1, f"instance-{i}", i + 1, f"{i:064x}"]) for i in range(size)]
    root, paths = merkle.inclusion_paths(leaves)
    assert root == merkle.root(leaves)
    for index, path in enumerate(paths):
        assert merkle.root_from_path(leaves[index], index, size, path) == root
        if size > 1:
            assert merkle.root_from_path(leaves[(index + 1) % size], index, size, path) != root


def test_a_proof_for_a_position_outside_the_tree_leads_nowhere() -> None:
    leaves = [merkle.leaf_hash([1, "a", 1, "0" * 64]), merkle.leaf_hash([1, "b", 1, "0" * 64])]
    _, paths = merkle.inclusion_paths(leaves)
    assert merkle.root_from_path(leaves[0], 2, 2, paths[0]) is None
    assert merkle.inclusion_paths([]) == (merkle.EMPTY_ROOT, [])


def filler(level: int, index: int) -> str:
    return hashlib.sha256(f"empty {level}:{index}".encode()).hexdigest()


@pytest.mark.parametrize("positions", [[], [0], [1], [1, 2], [3, 4, 5, 200], [2**16 - 1]])
def test_each_sparse_proof_leads_its_own_leaf_at_its_own_position_and_only_it_to_the_root(positions: list[int]) -> None:
    """Fixed depth: every proof is as long whatever the number of leaves, and needs no size to check."""
    leaves = {p: merkle.leaf_hash(["community", p]) for p in positions}
    levels = merkle.sparse_levels(leaves, 16, filler)
    root = merkle.sparse_root(levels, filler)
    for position, leaf in leaves.items():
        path = merkle.sparse_path(levels, position, filler)
        assert len(path) == 16
        assert merkle.root_from_sparse_path(leaf, position, path, 16) == root
        assert merkle.root_from_sparse_path(leaf, position ^ 1, path, 16) != root
        assert merkle.root_from_sparse_path(merkle.leaf_hash(["community", position, 1]), position, path, 16) != root
        assert merkle.root_from_sparse_path(leaf, position, path[:-1], 16) is None


def test_an_empty_position_looks_like_any_other_to_whoever_lacks_the_filler() -> None:
    """The sibling of a lone leaf is the filler's hash, not a constant anyone could recognise."""
    levels = merkle.sparse_levels({4: merkle.leaf_hash(["community", 4])}, 8, filler)
    assert merkle.sparse_path(levels, 4, filler)[0] == filler(0, 5)
    with pytest.raises(ValueError):
        merkle.sparse_levels({256: "0" * 64}, 8, filler)
