"""Inclusion proofs: a message's audit entries, their audit paths and the signed checkpoint.

The proof document is self-contained JSON: anyone with the gateway's public key can
check it with `verify_proof` (``mas audit verify --file``), without Redis.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from mas import keys

from .entry import message_id_of
from .errors import AuditError, AuditIntegrityError
from .log import LogEntry, entry_to_json, iter_log
from .merkle import MerkleTree, leaf_hash
from .proofs import verify_inclusion
from .verifier import load_stored_checkpoints, stored_leaves

__all__ = ["PROOF_KIND", "build_proof"]

PROOF_KIND = "mas.audit.proof"


async def _entries_of(
    client: aioredis.Redis, message_id: str, archive_dir: Path | None
) -> tuple[int, list[LogEntry]]:
    """The shard logging `message_id` and its entries there (a message may have several
    decisions, all in its sender's shard); no entries when no shard logs it."""
    needle = json.dumps({"message_id": message_id})[1:-1].replace(" ", "").encode()
    for shard in range(keys.INGRESS_SHARDS):
        found: list[LogEntry] = []
        async for entry in iter_log(client, shard=shard, archive_dir=archive_dir):
            if needle in entry.raw and message_id_of(entry.raw) == message_id:
                found.append(entry)
        if found:
            return shard, found
    return 0, []


async def build_proof(
    client: aioredis.Redis, message_id: str, *, archive_dir: Path | None = None
) -> dict[str, Any]:
    """The inclusion proof of every checkpointed entry of `message_id`, in the log of the
    shard that holds them (the proof names it).

    Raises:
        AuditError: no entry records the message, or none is checkpointed yet.
        AuditIntegrityError: the stored tree does not match the signed checkpoint.
    """
    shard, entries = await _entries_of(client, message_id, archive_dir)
    if not entries:
        raise AuditError(f"no audit entry records message {message_id!r}")
    stored, problems = await load_stored_checkpoints(client, shard=shard)
    if problems:
        raise AuditIntegrityError(f"shard {shard}: {problems[0].message}; run `mas audit verify`")
    if not stored:
        raise AuditError(f"message {message_id!r} is not covered by a checkpoint yet")
    latest = stored[-1]
    size = latest.checkpoint.tree_size
    covered = [e for e in entries if e.index < size]
    if not covered:
        raise AuditError(
            f"message {message_id!r} is logged (entry #{entries[0].index}) but not covered "
            "by a checkpoint yet; try again after the next checkpoint"
        )
    leaves = stored_leaves(stored)
    if leaves is None:
        raise AuditIntegrityError("the stored leaf hashes do not line up; run `mas audit verify`")
    tree = MerkleTree(leaves[:size])
    proved: list[dict[str, Any]] = []
    for entry in covered:
        path = tree.inclusion_proof(entry.index, size)
        if not verify_inclusion(
            leaf_hash(entry.raw), entry.index, size, path, latest.checkpoint.root
        ):
            raise AuditIntegrityError(
                f"entry #{entry.index} does not match checkpoint #{latest.checkpoint.seq}; "
                "run `mas audit verify`"
            )
        proved.append(
            {
                "index": entry.index,
                "stream_id": entry.stream_id,
                **entry_to_json(entry.raw),
                "path": [h.hex() for h in path],
            }
        )
    return {
        "kind": PROOF_KIND,
        "v": 1,
        "message_id": message_id,
        "shard": shard,
        "checkpoint": latest.signed.to_json(),
        "entries": proved,
        "not_yet_covered": len(entries) - len(covered),
    }
