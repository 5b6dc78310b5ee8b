"""Recompute the tree entry by entry, check each signed root, and name the first bad entry.

The same engine checks a live log and an offline export. When a signed root does not
match, the stored leaf hashes (helpers saved with each checkpoint, or the ``leaf``
column of an export) are used to pin the exact entry, but only after they are shown to
hash to that same signed root: unauthenticated hints are never believed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .checkpoint import Checkpoint
from .log import LogEntry
from .merkle import CompactRange, leaf_hash

__all__ = ["Finding", "LeafHints", "Target", "TreeRecomputation"]

_LOOKAHEAD = 64
"""Entries (and leaves) past a failed root kept to tell deleted, inserted and moved apart."""


@dataclass(frozen=True)
class Finding:
    """One thing that failed verification; entry findings name the entry."""

    kind: str
    message: str
    index: int | None = None
    stream_id: str | None = None
    message_id: str | None = None
    shard: int | None = None
    """The ingress shard whose log failed, when the finding is about one."""

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return asdict(self)

    def describe(self) -> str:
        """One line naming the shard and entry (when there are) and what is wrong."""
        shard = f"shard {self.shard}: " if self.shard is not None else ""
        if self.index is None:
            return f"{shard}{self.message}"
        where = [f"{shard}entry #{self.index}"]
        if self.stream_id:
            where.append(f"stream id {self.stream_id}")
        if self.message_id:
            where.append(f"message {self.message_id}")
        return f"{', '.join(where)}: {self.message}"


@dataclass(frozen=True)
class Target:
    """A signed root, checked once the recomputed tree reaches its size; `label` names it."""

    checkpoint: Checkpoint
    label: str


@dataclass(frozen=True)
class LeafHints:
    """Leaf hashes someone claims for positions ``left.size`` onwards; never trusted as such."""

    leaves: Sequence[bytes]
    left: CompactRange = field(default_factory=CompactRange)

    def signed_slice(self, target: Checkpoint, lo: int) -> list[bytes] | None:
        """Leaves from `lo` if these hints hash to the target's signed root.

        The slice runs to the target's size and, as unauthenticated context for naming
        what happened, up to `_LOOKAHEAD` leaves further.
        """
        start, hi = self.left.size, target.tree_size
        if lo < start or len(self.leaves) < hi - start:
            return None
        claimed = self.left.copy()
        claimed.extend(self.leaves[: hi - start])
        if claimed.root() != target.root:
            return None
        return list(self.leaves[lo - start : hi - start + _LOOKAHEAD])


def _first_positions(hashes: Sequence[bytes]) -> dict[bytes, int]:
    positions: dict[bytes, int] = {}
    for position, value in enumerate(hashes):
        positions.setdefault(value, position)
    return positions


class TreeRecomputation:
    """Feed entries in tree order with `add`, then `finish`; `failed` is the first bad root."""

    def __init__(self, targets: Sequence[Target], *, left: CompactRange | None = None) -> None:
        self.frontier = left.copy() if left is not None else CompactRange()
        self.start = self.frontier.size
        self._left = self.frontier.copy()
        self._targets = sorted(
            (t for t in targets if t.checkpoint.tree_size > self.start),
            key=lambda t: t.checkpoint.tree_size,
        )
        self._next = 0
        self.verified_size = self.start
        self.verified_targets = 0
        self.failed: Target | None = None
        self._entries: list[LogEntry] = []
        self._leaves: list[bytes] = []

    @property
    def unverified(self) -> list[LogEntry]:
        """Entries after the last signed root reached (empty once a root failed)."""
        return [] if self.failed is not None else list(self._entries)

    @property
    def size(self) -> int:
        """Entries added so far (counting those before the start)."""
        return self.frontier.size

    def add(self, entry: LogEntry) -> bool:
        """Add the next entry; False once a signed root failed and the lookahead is full."""
        if self.failed is not None:
            if (
                len(self._entries)
                >= self.failed.checkpoint.tree_size - self.verified_size + _LOOKAHEAD
            ):
                return False
            self._entries.append(entry)
            self._leaves.append(leaf_hash(entry.raw))
            return True
        leaf = leaf_hash(entry.raw)
        self.frontier.append(leaf)
        self._entries.append(entry)
        self._leaves.append(leaf)
        passed = 0
        while self._next < len(self._targets):
            target = self._targets[self._next]
            if target.checkpoint.tree_size != self.frontier.size:
                break
            if self.frontier.root() != target.checkpoint.root:
                self.failed = target
                return True
            passed += 1
            self._next += 1
        if passed:
            # Only once every root at this size matched is the prefix vouched for.
            self.verified_size = self.frontier.size
            self.verified_targets += passed
            self._entries.clear()
            self._leaves.clear()
        return True

    def finish(self) -> None:
        """A signed size beyond the last entry is a failure too: the tail was cut off."""
        if self.failed is None and self._next < len(self._targets):
            self.failed = self._targets[self._next]

    def locate(self, hints: Sequence[LeafHints] = ()) -> Finding:
        """Name the first bad entry under the failed root, pinned by the first authentic hints."""
        target = self.failed
        if target is None:
            raise ValueError("nothing failed")
        for candidate in hints:
            signed = candidate.signed_slice(target.checkpoint, self.verified_size)
            if signed is not None:
                return self._pinned(target, signed)
        return self._bounded(target, hints[0] if hints else None)

    def _named(self, position: int, kind: str, message: str) -> Finding:
        """A finding about the entry now at `lo + position` (if there is one)."""
        index = self.verified_size + position
        if position < len(self._entries):
            entry = self._entries[position]
            return Finding(kind, message, index, entry.stream_id, entry.message_id)
        return Finding(kind, message, index)

    def _pinned(self, target: Target, signed: list[bytes]) -> Finding:
        """The exact entry, by comparing with authenticated leaf hashes."""
        rec = self._leaves
        lo = self.verified_size
        covered = target.checkpoint.tree_size - lo
        i = next(
            (p for p in range(covered) if p >= len(rec) or rec[p] != signed[p]),
            covered,
        )
        index = lo + i
        if i >= len(rec):
            return self._named(
                i,
                "entry",
                f"missing: the log ends here but {target.label} covers "
                f"{target.checkpoint.tree_size} entries (the tail was cut off)",
            )
        signed_at = _first_positions(signed).get(rec[i])
        now_at = _first_positions(rec).get(signed[i]) if i < len(signed) else None
        if signed_at is not None and signed_at > i and now_at is not None and now_at > i:
            message = f"reordered: this is signed entry #{lo + signed_at}, out of its place"
        elif signed_at is not None and signed_at > i:
            message = (
                f"deleted: signed entry #{index} is gone ({signed_at - i} missing); "
                f"the entry now here is signed entry #{lo + signed_at}"
            )
        elif now_at is not None and now_at > i:
            message = f"inserted: not in the signed log; signed entry #{index} follows it"
        else:
            message = "modified: it no longer hashes to the signed leaf"
        return self._named(i, "entry", f"{message} ({target.label} does not match)")

    def _bounded(self, target: Target, hints: LeafHints | None) -> Finding:
        """Without authenticated leaves: the first entry the signed roots cannot vouch for."""
        lo, hi = self.verified_size, target.checkpoint.tree_size
        if self.size < hi and self.size == lo:
            return self._named(
                0,
                "entry",
                f"missing: the log ends here but {target.label} covers {hi} entries "
                "(the tail was cut off)",
            )
        detail = ""
        if hints is not None and lo >= hints.left.size:
            offset = lo - hints.left.size
            rec, claimed = self._leaves, hints.leaves
            diff = next(
                (
                    p
                    for p in range(len(rec))
                    if offset + p >= len(claimed) or claimed[offset + p] != rec[p]
                ),
                None,
            )
            if diff is not None:
                detail = f"; the stored leaf hashes, unverified, first differ at #{lo + diff}"
        short = (
            f"; the log ends at #{self.size - 1}, before the {hi} entries it covers"
            if self.size < hi
            else ""
        )
        return self._named(
            0,
            "entry",
            f"first entry not matching {target.label}: some entry in #{lo}..#{hi - 1} was "
            f"modified, deleted, inserted or reordered{short} (the stored leaf hashes were "
            f"altered too, so it cannot be pinned closer){detail}",
        )
