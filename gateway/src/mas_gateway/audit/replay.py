"""Recompute the tree entry by entry, check each signed root, and name the first bad entry.

The same engine checks a live log and an offline export. When a signed root does not
match, the stored leaf hashes (helpers saved with each checkpoint, or the ``leaf``
column of an export) are used to pin the exact entry, but only after they are shown to
hash to that same signed root: unauthenticated hints are never believed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .checkpoint import Checkpoint
from .log import LogEntry
from .merkle import CompactRange, leaf_hash

__all__ = ["Finding", "Replay", "Target"]


@dataclass(frozen=True)
class Finding:
    """One thing that failed verification; entry findings name the entry."""

    kind: str
    message: str
    index: int | None = None
    stream_id: str | None = None
    message_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return asdict(self)

    def describe(self) -> str:
        """One line naming the entry (when there is one) and what is wrong."""
        if self.index is None:
            return self.message
        where = [f"entry #{self.index}"]
        if self.stream_id:
            where.append(f"stream id {self.stream_id}")
        if self.message_id:
            where.append(f"message {self.message_id}")
        return f"{', '.join(where)}: {self.message}"


@dataclass(frozen=True)
class Target:
    """A signed root to check once the replay reaches its size; `label` names it in messages."""

    checkpoint: Checkpoint
    label: str


def _first_positions(hashes: Sequence[bytes]) -> dict[bytes, int]:
    positions: dict[bytes, int] = {}
    for position, value in enumerate(hashes):
        positions.setdefault(value, position)
    return positions


class Replay:
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
    def size(self) -> int:
        """Entries replayed so far (counting those before the start)."""
        return self.frontier.size

    def add(self, entry: LogEntry) -> bool:
        """Add the next entry; False once a signed root failed (further entries are ignored)."""
        if self.failed is not None:
            return False
        leaf = leaf_hash(entry.raw)
        self.frontier.append(leaf)
        self._entries.append(entry)
        self._leaves.append(leaf)
        while self._next < len(self._targets):
            target = self._targets[self._next]
            if target.checkpoint.tree_size != self.frontier.size:
                break
            if self.frontier.root() != target.checkpoint.root:
                self.failed = target
                return False
            self.verified_size = self.frontier.size
            self.verified_targets += 1
            self._next += 1
            self._entries.clear()
            self._leaves.clear()
        return True

    def finish(self) -> None:
        """A signed size beyond the last entry is a failure too: the tail was cut off."""
        if self.failed is None and self._next < len(self._targets):
            self.failed = self._targets[self._next]

    def locate(self, hints: Sequence[bytes] | None) -> Finding:
        """Name the first bad entry under the failed root; `hints` are leaf hashes from `start`."""
        target = self.failed
        if target is None:
            raise ValueError("nothing failed")
        checkpoint = target.checkpoint
        lo, hi = self.verified_size, checkpoint.tree_size
        if hints is not None and len(hints) >= hi - self.start:
            claimed = self._left.copy()
            claimed.extend(hints[: hi - self.start])
            if claimed.root() == checkpoint.root:
                return self._pinned(target, list(hints[lo - self.start : hi - self.start]))
        return self._bounded(target, hints)

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
        i = next(
            (p for p in range(len(signed)) if p >= len(rec) or rec[p] != signed[p]),
            len(signed),
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

    def _bounded(self, target: Target, hints: Sequence[bytes] | None) -> Finding:
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
        if hints is not None:
            offset = lo - self.start
            rec = self._leaves
            diff = next(
                (
                    p
                    for p in range(len(rec))
                    if offset + p >= len(hints) or hints[offset + p] != rec[p]
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
