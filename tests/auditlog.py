"""Reading every shard's audit log at once, in the order the entries were appended."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from mas import keys


def _order(stream_id: Any) -> tuple[int, int]:
    text = stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id)
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


async def audit_xrange(client: aioredis.Redis) -> list[Any]:
    """XRANGE of every shard's audit log, merged by stream id."""
    rows: list[Any] = []
    for shard in range(keys.INGRESS_SHARDS):
        rows.extend(await client.xrange(keys.audit_log(shard)) or [])
    return sorted(rows, key=lambda row: _order(row[0]))


async def audit_xlen(client: aioredis.Redis) -> int:
    """Entries in every shard's audit log."""
    return sum([int(await client.xlen(keys.audit_log(s))) for s in range(keys.INGRESS_SHARDS)])


__all__ = ["audit_xlen", "audit_xrange"]
