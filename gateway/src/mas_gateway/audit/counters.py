"""Stream counters as a tripwire: Redis remembers how many entries were ever added.

``XINFO STREAM`` reports ``entries-added`` (never decreases) and ``max-deleted-entry-id``
(set by XDEL). The audit log is only ever appended to and, by `mas audit archive`,
trimmed with XTRIM MINID after the entries were written to an archive segment. So
``entries-added == length + archived`` and no XDEL must ever have happened; anything
else means entries or checkpoints were deleted. Someone able to recreate the keys can
reset these counters too, which is why the signed checkpoints remain the real proof.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from mas import keys
from mas.redis_text import as_text

__all__ = ["StreamCounters", "counter_problems", "read_counters"]

_NO_DELETION = "0-0"


@dataclass(frozen=True)
class StreamCounters:
    """One consistent snapshot of the audit streams' counters."""

    entries_length: int
    entries_added: int | None
    entries_max_deleted: str | None
    checkpoints_length: int
    checkpoints_added: int | None
    checkpoints_max_deleted: str | None
    archived: int
    shard: int


def _info(reply: Any) -> tuple[int, int | None, str | None]:
    if isinstance(reply, ResponseError) or not isinstance(reply, dict):
        return 0, None, None
    added = reply.get("entries-added")
    deleted = reply.get("max-deleted-entry-id")
    return (
        int(reply.get("length", 0)),
        int(added) if added is not None else None,
        as_text(deleted) if deleted is not None else None,
    )


async def read_counters(client: aioredis.Redis, *, shard: int) -> StreamCounters:
    """Read one shard's stream counters and archived count atomically (MULTI/EXEC, one slot)."""
    async with client.pipeline(transaction=True) as pipe:
        pipe.xinfo_stream(keys.audit_log(shard))
        pipe.xinfo_stream(keys.audit_checkpoints(shard))
        pipe.lindex(keys.audit_archive(shard), -1)
        entries, checkpoints, last_segment = await pipe.execute(raise_on_error=False)
    archived = 0
    if isinstance(last_segment, bytes | str):
        try:
            record = json.loads(last_segment)
            archived = int(record["first_index"]) + int(record["count"])
        except (ValueError, KeyError, TypeError):
            archived = -1
    e_len, e_added, e_deleted = _info(entries)
    c_len, c_added, c_deleted = _info(checkpoints)
    return StreamCounters(e_len, e_added, e_deleted, c_len, c_added, c_deleted, archived, shard)


def counter_problems(counters: StreamCounters) -> list[str]:
    """What the counters say was deleted, in words; empty when they are consistent."""
    problems: list[str] = []
    log_key, checkpoints_key = (
        keys.audit_log(counters.shard),
        keys.audit_checkpoints(counters.shard),
    )
    if counters.archived < 0:
        problems.append(f"the last {keys.audit_archive(counters.shard)} record is malformed")
    if counters.entries_max_deleted not in (None, _NO_DELETION):
        problems.append(
            f"entries were deleted from {log_key} with XDEL "
            f"(highest deleted stream id {counters.entries_max_deleted})"
        )
    if counters.entries_added is not None and counters.archived >= 0:
        present = counters.entries_length + counters.archived
        if counters.entries_added != present:
            problems.append(
                f"{log_key} had {counters.entries_added} entries added but holds "
                f"{counters.entries_length} plus {counters.archived} archived: "
                f"{counters.entries_added - present} missing"
            )
    if counters.checkpoints_max_deleted not in (None, _NO_DELETION):
        problems.append(
            f"checkpoints were deleted from {checkpoints_key} "
            f"(highest deleted stream id {counters.checkpoints_max_deleted})"
        )
    if (
        counters.checkpoints_added is not None
        and counters.checkpoints_added != counters.checkpoints_length
    ):
        problems.append(
            f"{checkpoints_key} had {counters.checkpoints_added} checkpoints added but holds "
            f"{counters.checkpoints_length}"
        )
    return problems
