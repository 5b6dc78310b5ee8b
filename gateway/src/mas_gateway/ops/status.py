"""What the operator dashboard shows, read from Redis: one JSON document.

Agents and their liveness (profile status, heartbeat, roles, revocation), the
decisions of the last `WINDOW_S` seconds per minute, denials by policy rule, DLP
findings by entity type, dead letters, circuits (state per target and parked
deliveries), the policy version, and the result of the latest audit verification.
Read only, from what the gateway's Redis user may read. The audit entries it
summarises hold no payload values, and withheld envelope fields are already null
in them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mas import keys
from mas.records import Profile
from mas.redis_text import as_text

from ..agent_records import fetch_records
from ..audit import WitnessFile
from ..audit.checkpoint import load_gateway_keys, newest_checkpoint
from ..audit.entry import ENTRY_FIELD, parse_entry
from ..audit.report import Witness
from ..audit.streams import stream_entries
from ..audit.verifier import combine_reports, verify_shards
from ..circuits import read_circuits

__all__ = ["WINDOW_S", "AuditStatus", "system_status"]

log = logging.getLogger(__name__)

WINDOW_S = 900
"""Seconds of decisions the dashboard shows."""
MAX_ENTRIES = 20_000
"""Audit entries read at most per refresh (the newest first)."""
VERIFY_EVERY_S = 60.0


class AuditStatus:
    """The latest verification of the whole audit log, redone at most every minute."""

    def __init__(self, client: aioredis.Redis, witness: WitnessFile) -> None:
        self._client = client
        self._witness = witness
        self._result: dict[str, Any] = {"state": "not verified yet"}
        self._at = 0.0
        self._lock = asyncio.Lock()

    async def current(self) -> dict[str, Any]:
        """The latest result, verifying again first when it is older than a minute."""
        async with self._lock:
            if time.monotonic() - self._at >= VERIFY_EVERY_S:
                self._at = time.monotonic()
                self._result = await self._verify()
        return self._result

    async def _verify(self) -> dict[str, Any]:
        try:
            witnesses: dict[int, Witness] = {}
            for shard in range(keys.INGRESS_SHARDS):
                if (kept := self._witness.for_shard(shard).load()) is not None:
                    witnesses[shard] = Witness(kept)
            report = combine_reports(
                await verify_shards(
                    self._client, trusted=await load_gateway_keys(self._client), witnesses=witnesses
                )
            )
        except (RedisError, OSError) as exc:
            return {"state": "unknown", "detail": f"could not verify: {type(exc).__name__}"}
        if report.ok:
            return {
                "state": "verified",
                "entries": report.entries + report.archived,
                "checkpoints": report.checkpoints,
                "at": time.time(),
            }
        return {"state": "FAILED", "detail": str(report.findings[0]), "at": time.time()}


async def _agents(client: aioredis.Redis) -> list[dict[str, Any]]:
    ids = sorted(as_text(m) for m in await client.smembers(keys.ALL_AGENTS))  # type: ignore[misc]
    records = await fetch_records(client, ids)
    async with client.pipeline(transaction=False) as pipe:
        for agent_id in ids:
            pipe.hgetall(keys.agent_record(agent_id))
            pipe.exists(keys.agent_heartbeat(agent_id))
            pipe.xlen(keys.agent_stream(agent_id))
            pipe.xlen(keys.agent_dlq(agent_id))
        replies = await pipe.execute()
    agents = []
    for i, agent_id in enumerate(ids):
        profile: Mapping[Any, Any] = replies[4 * i]
        record = records.get(agent_id)
        agents.append(
            {
                "id": agent_id,
                "status": Profile.from_hash(agent_id, profile).status
                if profile
                else "UNREGISTERED",
                "alive": bool(replies[4 * i + 1]),
                "roles": list(record.trust.roles) if record is not None else [],
                "revoked": bool(record and record.trust.revoked),
                "inbox": int(replies[4 * i + 2]),
                "dead_letters": int(replies[4 * i + 3]),
            }
        )
    return agents


async def _decisions(client: aioredis.Redis, now: float) -> dict[str, Any]:
    since_ms = int((now - WINDOW_S) * 1000)
    raw: list[tuple[str, dict[str, bytes]]] = []
    truncated = False
    for shard in range(keys.INGRESS_SHARDS):
        newest = stream_entries(
            await client.xrevrange(keys.audit_log(shard), min=f"{since_ms}-0", count=MAX_ENTRIES)
        )
        truncated = truncated or len(newest) >= MAX_ENTRIES
        raw.extend(newest)
    per_minute: dict[int, Counter[str]] = {}
    totals: Counter[str] = Counter()
    denials: Counter[str] = Counter()
    findings: Counter[str] = Counter()
    for stream_id, fields in raw:
        entry = parse_entry(fields.get(ENTRY_FIELD, b""))
        if entry is None:
            continue
        decision = str(entry.get("decision"))
        minute = int(stream_id.split("-")[0]) // 60_000 * 60
        per_minute.setdefault(minute, Counter())[decision] += 1
        totals[decision] += 1
        if decision == "denied":
            denials[str(entry.get("rule") or "default deny")] += 1
        dlp = entry.get("dlp") or {}
        for entity, count in (dlp.get("entities") or {}).items():
            findings[str(entity)] += int(count)
    return {
        "window_s": WINDOW_S,
        "truncated": truncated,
        "totals": dict(totals),
        "per_minute": [
            {"minute": minute, **dict(counts)} for minute, counts in sorted(per_minute.items())
        ],
        "denials_by_rule": dict(denials.most_common(20)),
        "dlp_findings": dict(findings.most_common()),
    }


async def system_status(
    client: aioredis.Redis, *, policy_version: str | None, audit: AuditStatus
) -> dict[str, Any]:
    """The dashboard's document."""
    now = time.time()
    stored = await newest_checkpoint(client)
    return {
        "generated_at": now,
        "policy_version": policy_version,
        "agents": await _agents(client),
        "decisions": await _decisions(client, now),
        "gateway_dead_letters": int(await client.xlen(keys.DLQ)),
        "circuits": [view.summary() for view in await read_circuits(client)],
        "audit": {
            **await audit.current(),
            "checkpoint_age_s": now - stored.checkpoint.time if stored is not None else None,
        },
    }
