"""A lying log tries to pass forged inclusion and consistency proofs; all are rejected."""

from __future__ import annotations

import itertools

import pytest

from mas_gateway.audit.merkle import MerkleTree, leaf_hash, node_hash
from mas_gateway.audit.proofs import verify_consistency, verify_inclusion


def entries(n: int, *, replace: dict[int, bytes] | None = None) -> list[bytes]:
    out = [f'{{"message_id":"m{i}"}}'.encode() for i in range(n)]
    for index, value in (replace or {}).items():
        out[index] = value
    return out


def tree_of(items: list[bytes]) -> MerkleTree:
    return MerkleTree([leaf_hash(e) for e in items])


HONEST = tree_of(entries(20))
FORGED_ENTRY = b'{"message_id":"forged"}'


def mutations(path: list[bytes]) -> list[list[bytes]]:
    """Every small corruption of a proof a liar might try."""
    out: list[list[bytes]] = [[], path[:-1], path[1:], [*path, path[-1]], path[::-1]]
    for position in range(len(path)):
        flipped = bytearray(path[position])
        flipped[0] ^= 1
        out.append([*path[:position], bytes(flipped), *path[position + 1 :]])
        out.append([*path[:position], *path[position + 1 :]])
    return [p for p in out if p != path]


def test_forged_entry_cannot_be_proven_with_the_forked_trees_path() -> None:
    forked = tree_of(entries(20, replace={5: FORGED_ENTRY}))
    path = forked.inclusion_proof(5, 20)
    assert verify_inclusion(leaf_hash(FORGED_ENTRY), 5, 20, path, forked.root())
    assert not verify_inclusion(leaf_hash(FORGED_ENTRY), 5, 20, path, HONEST.root())


def test_forged_entry_with_the_honest_path_or_a_spliced_path_is_rejected() -> None:
    forked = tree_of(entries(20, replace={5: FORGED_ENTRY}))
    honest, lying = HONEST.inclusion_proof(5, 20), forked.inclusion_proof(5, 20)
    assert len(honest) == len(lying)
    for choice in itertools.product((0, 1), repeat=len(honest)):
        spliced = [(honest, lying)[c][i] for i, c in enumerate(choice)]
        assert not verify_inclusion(leaf_hash(FORGED_ENTRY), 5, 20, spliced, HONEST.root())


@pytest.mark.parametrize("index", [0, 5, 19])
def test_corrupted_paths_wrong_indexes_and_sizes_are_rejected(index: int) -> None:
    leaf = HONEST.leaf(index)
    path = HONEST.inclusion_proof(index, 20)
    root = HONEST.root()
    assert verify_inclusion(leaf, index, 20, path, root)
    for bad in mutations(path):
        assert not verify_inclusion(leaf, index, 20, bad, root)
    for other in (index + 1, index - 1, index + 20, -1):
        assert not verify_inclusion(leaf, other, 20, path, root)
    # Sizes that change the tree's shape break the proof. (A size that does not, such as
    # 19 or 21 here, is no loophole: a checkpoint signs its size and root together.)
    assert not verify_inclusion(leaf, index, 40, path, root)
    assert not verify_inclusion(leaf, index, 16, path, root)
    assert not verify_inclusion(leaf[:31], index, 20, path, root)


def test_an_inner_node_cannot_pass_for_an_entry() -> None:
    inner = node_hash(HONEST.leaf(4), HONEST.leaf(5))
    path = HONEST.inclusion_proof(4, 20)
    # As a tree of 10 pair-nodes the lie works, which is why the verifier takes the size
    # from the signed checkpoint and hashes the entry bytes itself.
    assert verify_inclusion(inner, 2, 10, path[1:], HONEST.root())
    disguised = HONEST.leaf(4) + HONEST.leaf(5)
    assert not verify_inclusion(leaf_hash(disguised), 2, 20, path[1:], HONEST.root())
    assert not verify_inclusion(leaf_hash(disguised), 4, 20, path, HONEST.root())


@pytest.mark.parametrize(("old", "new"), [(10, 20), (8, 20), (1, 20), (13, 17)])
def test_a_rewritten_history_cannot_prove_consistency(old: int, new: int) -> None:
    forked = tree_of(entries(20, replace={3 if old > 3 else 0: FORGED_ENTRY}))
    old_root, forked_root = HONEST.root(old), forked.root(new)
    lying = forked.consistency_proof(old, new)
    honest = HONEST.consistency_proof(old, new)
    assert verify_consistency(old, new, forked.root(old), forked_root, lying)
    assert verify_consistency(old, new, old_root, HONEST.root(new), honest)
    assert not verify_consistency(old, new, old_root, forked_root, lying)
    assert not verify_consistency(old, new, old_root, forked_root, honest)
    assert len(honest) == len(lying)
    for choice in itertools.product((0, 1), repeat=len(honest)):
        spliced = [(honest, lying)[c][i] for i, c in enumerate(choice)]
        assert not verify_consistency(old, new, old_root, forked_root, spliced)


@pytest.mark.parametrize(("old", "new"), [(10, 20), (8, 20), (7, 8), (1, 2)])
def test_corrupted_consistency_proofs_are_rejected(old: int, new: int) -> None:
    proof = HONEST.consistency_proof(old, new)
    old_root, new_root = HONEST.root(old), HONEST.root(new)
    for bad in mutations(proof):
        assert not verify_consistency(old, new, old_root, new_root, bad)
    assert not verify_consistency(new, old, new_root, old_root, proof)
    assert not verify_consistency(old, 2 * new, old_root, new_root, proof)
    assert not verify_consistency(old - 1, new, old_root, new_root, proof)


def test_a_truncated_log_cannot_prove_it_extends_a_longer_one() -> None:
    truncated = tree_of(entries(12) + [FORGED_ENTRY] * 8)
    proof = truncated.consistency_proof(15, 20)
    assert not verify_consistency(15, 20, HONEST.root(15), truncated.root(20), proof)
    assert not verify_consistency(20, 15, HONEST.root(20), truncated.root(15), [])
    assert not verify_consistency(20, 20, HONEST.root(20), truncated.root(20), [])
