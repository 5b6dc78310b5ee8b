"""RFC 6962 tree hashing: known vectors, the compact frontier, and honest proofs."""

from __future__ import annotations

import hashlib

import pytest

from mas_gateway.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MerkleTree,
    leaf_hash,
    node_hash,
)
from mas_gateway.audit.proofs import verify_consistency, verify_inclusion


def reference_root(entries: list[bytes]) -> bytes:
    """MTH straight from the RFC's recursive definition."""
    if not entries:
        return hashlib.sha256(b"").digest()
    if len(entries) == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1
    while k * 2 < len(entries):
        k *= 2
    left, right = reference_root(entries[:k]), reference_root(entries[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


# Leaves and roots of the test vectors used by RFC 6962 implementations
# (certificate-transparency-go merkle tests): D = the 8 inputs below.
RFC_INPUTS = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
RFC_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert CompactRange().root() == EMPTY_ROOT
    assert MerkleTree([]).root() == EMPTY_ROOT


def test_roots_match_the_rfc_6962_test_vectors() -> None:
    tree = MerkleTree([leaf_hash(d) for d in RFC_INPUTS])
    frontier = CompactRange()
    for size in range(1, len(RFC_INPUTS) + 1):
        frontier.append(leaf_hash(RFC_INPUTS[size - 1]))
        assert tree.root(size).hex() == RFC_ROOTS[size - 1]
        assert frontier.root().hex() == RFC_ROOTS[size - 1]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 31, 64, 100])
def test_frontier_tree_and_reference_agree(size: int) -> None:
    entries = [f"entry-{i}".encode() for i in range(size)]
    leaves = [leaf_hash(e) for e in entries]
    frontier = CompactRange()
    frontier.extend(leaves)
    assert len(frontier.hashes) == size.bit_count()
    assert frontier.root() == MerkleTree(leaves).root() == reference_root(entries)
    restored = CompactRange.unpack(size, frontier.pack())
    assert restored.root() == frontier.root()


def test_frontier_rejects_a_wrong_number_of_hashes() -> None:
    with pytest.raises(ValueError, match="compact range of 3 leaves has 2 hashes"):
        CompactRange(3, [leaf_hash(b"x")])
    with pytest.raises(ValueError, match="not fit for size 4"):
        CompactRange.unpack(4, b"\x00" * 64)


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    left, right = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(left, right) != leaf_hash(left + right)


def test_every_honest_inclusion_proof_verifies() -> None:
    leaves = [leaf_hash(f"e{i}".encode()) for i in range(37)]
    tree = MerkleTree(leaves)
    for size in range(1, 38):
        root = tree.root(size)
        for index in range(size):
            path = tree.inclusion_proof(index, size)
            assert verify_inclusion(leaves[index], index, size, path, root)
            assert not verify_inclusion(leaves[index], index, size, path, tree.root(size - 1))


def test_every_honest_consistency_proof_verifies() -> None:
    leaves = [leaf_hash(f"e{i}".encode()) for i in range(33)]
    tree = MerkleTree(leaves)
    for new in range(0, 34):
        for old in range(0, new + 1):
            proof = tree.consistency_proof(old, new)
            assert verify_consistency(old, new, tree.root(old), tree.root(new), proof), (old, new)


def test_proof_sizes_are_logarithmic() -> None:
    tree = MerkleTree([leaf_hash(str(i).encode()) for i in range(1000)])
    assert len(tree.inclusion_proof(517, 1000)) <= 10
    assert len(tree.consistency_proof(300, 1000)) <= 2 * 10


def test_proof_requests_outside_the_tree_are_refused() -> None:
    tree = MerkleTree([leaf_hash(b"a"), leaf_hash(b"b")])
    with pytest.raises(ValueError, match="leaf 2 is not in a tree of 2"):
        tree.inclusion_proof(2, 2)
    with pytest.raises(ValueError, match=r"outside 0\.\.2"):
        tree.root(3)
    with pytest.raises(ValueError, match="must not decrease"):
        tree.consistency_proof(2, 1)
