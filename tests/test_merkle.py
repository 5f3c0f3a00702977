"""The checkpoint tree: every head's proof leads to the signed root, and no other head's does."""

from __future__ import annotations

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
