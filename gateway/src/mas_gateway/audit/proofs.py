"""Verification of inclusion and consistency proofs (RFC 9162 sections 2.1.3.2 and 2.1.4.2).

Both functions trust nothing but the roots they are given: every hash in a proof comes
from whoever produced it, who may be lying.
"""

from __future__ import annotations

from collections.abc import Sequence

from .merkle import EMPTY_ROOT, HASH_SIZE, node_hash

__all__ = ["verify_consistency", "verify_inclusion"]


def _well_formed(*hashes: bytes) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """True only if `path` proves leaf hash `leaf` sits at `index` in the tree with `root`."""
    if not _well_formed(leaf, root, *path) or not 0 <= index < tree_size:
        return False
    fn, sn, r = index, tree_size - 1, leaf
    for sibling in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(sibling, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True only if `proof` shows tree (new_size, new_root) extends (old_size, old_root)."""
    if not _well_formed(old_root, new_root, *proof) or not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
