"""Export a contiguous stretch of the log with everything needed to verify it offline.

An export holds entries ``start .. tree_size - 1`` where ``tree_size`` is the size of a
signed checkpoint (the anchor), plus: every signed checkpoint up to the anchor, the
consistency proof between each consecutive pair, the compact range of the entries
before ``start`` (so the roots can be recomputed without them), and the stored leaf
hashes of the exported entries, kept apart from the entries (so a verifier can name a
deleted, inserted or moved entry exactly, once those hashes are shown to hash to a
signed root).
"""

from __future__ import annotations

import base64
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis

from .checkpoint import SignedCheckpoint
from .errors import AuditError, AuditIntegrityError
from .log import LogEntry, iter_log
from .merkle import CompactRange, MerkleTree
from .verifier import load_stored_checkpoints, stored_leaves

__all__ = ["EXPORT_KIND", "Export", "build_export"]

EXPORT_KIND = "mas.audit.export"


@dataclass
class Export:
    """Entries with their proof material; see the module docstring."""

    start: int
    left: CompactRange
    checkpoints: list[SignedCheckpoint]
    consistency: list[list[bytes]]
    entries: list[LogEntry]
    leaves: list[bytes] | None = None
    exported_at: float = field(default_factory=time.time)

    @property
    def tree_size(self) -> int:
        """Size of the anchor checkpoint (0 without one)."""
        return self.checkpoints[-1].checkpoint.tree_size if self.checkpoints else 0

    def header(self) -> dict[str, object]:
        """The proof material as JSON (first line of a JSONL or CSV export)."""
        return {
            "kind": EXPORT_KIND,
            "v": 1,
            "exported_at": round(self.exported_at, 6),
            "start": self.start,
            "count": len(self.entries),
            "tree_size": self.tree_size,
            "left": [h.hex() for h in self.left.hashes],
            "checkpoints": [c.to_json() for c in self.checkpoints],
            "consistency": [[h.hex() for h in proof] for proof in self.consistency],
            "leaves": base64.b64encode(b"".join(self.leaves or [])).decode("ascii"),
        }


def _stream_ms(stream_id: str) -> int:
    return int(stream_id.split("-", 1)[0])


async def build_export(
    client: aioredis.Redis,
    *,
    shard: int,
    since: float | None = None,
    until: float | None = None,
    archive_dir: Path | None = None,
) -> Export:
    """One shard's entries appended in [since, until] (by stream id time), up to its last
    checkpoint then.

    Raises:
        AuditError: there is no checkpoint, or nothing in the range is covered by one.
        AuditIntegrityError: the stored checkpoints are malformed or do not line up.
    """
    stored, problems = await load_stored_checkpoints(client, shard=shard)
    if problems:
        raise AuditIntegrityError(f"{problems[0].message}; run `mas audit verify`")
    if until is not None:
        stored = [s for s in stored if _stream_ms(s.checkpoint.last_id) <= until * 1000]
    if not stored:
        raise AuditError("nothing to export: no checkpoint covers that period yet")
    leaves = stored_leaves(stored)
    if leaves is None:
        raise AuditIntegrityError(
            "the leaf hashes stored with the checkpoints do not line up; run `mas audit verify`"
        )
    tree_size = stored[-1].checkpoint.tree_size
    since_ms = since * 1000 if since is not None else None
    entries: list[LogEntry] = []
    async for entry in iter_log(client, shard=shard, archive_dir=archive_dir):
        if entry.index >= tree_size:
            break
        if since_ms is None or entries or _stream_ms(entry.stream_id) >= since_ms:
            entries.append(entry)
    if not entries:
        raise AuditError("nothing to export: no checkpointed entry in that period")
    start = entries[0].index
    left = CompactRange()
    left.extend(leaves[:start])
    tree = MerkleTree(leaves)
    sizes = [s.checkpoint.tree_size for s in stored]
    consistency = [tree.consistency_proof(old, new) for old, new in itertools.pairwise(sizes)]
    return Export(
        start=start,
        left=left,
        checkpoints=[s.signed for s in stored],
        consistency=consistency,
        entries=entries,
        leaves=leaves[start:tree_size],
    )
