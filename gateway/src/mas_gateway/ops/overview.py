"""What an operator sees: every agent's registry records, and the system at a glance.

Read with the operator's Redis user (trust records, outboxes and dead letters are
not readable by agents). Pipelined: a constant number of round trips whatever the
number of agents. Nothing here returns a secret (no token hash, no payload).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from mas import keys
from mas.records import Identity, Profile, TrustRecord
from mas.redis_text import as_text

from ..presence import read_presence

__all__ = ["AgentView", "agent_views", "system_status"]


@dataclass(frozen=True)
class AgentView:
    """One provisioned agent as the operator sees it (no token hash)."""

    profile: Profile
    trust: TrustRecord | None
    identity: Identity | None
    instances: tuple[str, ...]
    """Instances whose liveness key still exists."""
    last_heartbeat: float | None
    """Newest heartbeat time of a live instance (None: no live instance)."""

    @property
    def agent_id(self) -> str:
        """The agent's id."""
        return self.profile.agent_id

    def to_json(self, now: float) -> dict[str, Any]:
        """JSON-ready record."""
        trust = self.trust
        age = None if self.last_heartbeat is None else round(now - self.last_heartbeat, 3)
        return {
            "id": self.agent_id,
            "status": str(self.profile.status),
            "capabilities": list(self.profile.capabilities),
            "metadata": dict(self.profile.metadata),
            "registered_at": self.profile.registered_at or None,
            "heartbeat_age_s": age,
            "instances": list(self.instances),
            "roles": list(trust.roles) if trust else [],
            "provisioned_by": str(trust.provisioned_by) if trust else None,
            "provisioned_at": trust.provisioned_at if trust else None,
            "revoked": bool(trust and trust.revoked),
            "revoked_at": trust.revoked_at if trust else None,
            "key_id": self.identity.key_id if self.identity else None,
            "public_key": self.identity.public_key if self.identity else None,
        }


async def agent_views(
    client: aioredis.Redis, agent_ids: Sequence[str] | None = None
) -> list[AgentView]:
    """The records of `agent_ids` (default: every id in ``mas.agents``), sorted by id."""
    if agent_ids is None:
        members = await client.smembers(keys.ALL_AGENTS)  # type: ignore[misc]
        agent_ids = [as_text(m) for m in members]
    ids = sorted(set(agent_ids))
    async with client.pipeline(transaction=False) as pipe:
        for agent_id in ids:
            pipe.hgetall(keys.agent_record(agent_id))
            pipe.hgetall(keys.agent_trust(agent_id))
            pipe.hgetall(keys.agent_identity(agent_id))
            pipe.smembers(keys.agent_instances(agent_id))
        replies = await pipe.execute()
    instance_sets = [sorted(as_text(m) for m in replies[i * 4 + 3]) for i in range(len(ids))]
    async with client.pipeline(transaction=False) as pipe:
        for agent_id, instances in zip(ids, instance_sets, strict=True):
            for instance in instances:
                pipe.get(keys.agent_instance(agent_id, instance))
        beats = iter(await pipe.execute())
    views: list[AgentView] = []
    for i, agent_id in enumerate(ids):
        profile_raw, trust_raw, identity_raw = replies[i * 4 : i * 4 + 3]
        live: list[str] = []
        newest: float | None = None
        for instance in instance_sets[i]:
            beat = next(beats)
            if beat is None:
                continue  # the instance's liveness expired
            live.append(instance)
            try:
                at = float(as_text(beat))
            except ValueError:
                continue
            newest = at if newest is None else max(newest, at)
        views.append(
            AgentView(
                profile=Profile.from_hash(agent_id, profile_raw),
                trust=TrustRecord.from_hash(trust_raw),
                identity=Identity.from_hash(identity_raw),
                instances=tuple(live),
                last_heartbeat=newest,
            )
        )
    return views


def _stream_time(entry_id: Any) -> float:
    """The time (Unix seconds) a stream entry id was created."""
    return int(as_text(entry_id).partition("-")[0]) / 1000.0


def _top(counts: dict[str, int], top: int) -> list[dict[str, Any]]:
    ranked = sorted(((n, a) for a, n in counts.items() if n), key=lambda x: (-x[0], x[1]))
    return [{"agent": a, "count": n} for n, a in ranked[:top]]


async def system_status(client: aioredis.Redis, *, top: int = 5) -> dict[str, Any]:
    """Gateways, outbox backlog, dead letters, audit checkpoint and policy versions."""
    now = time.time()
    members = await client.smembers(keys.ALL_AGENTS)  # type: ignore[misc]
    ids = sorted(as_text(m) for m in members)
    async with client.pipeline(transaction=False) as pipe:
        for agent_id in ids:
            pipe.xinfo_groups(keys.agent_outbox(agent_id))
            pipe.xlen(keys.agent_dlq(agent_id))
        pipe.xlen(keys.DLQ)
        pipe.xrevrange(keys.POLICY_VERSIONS, count=1)
        for shard in range(keys.INGRESS_SHARDS):
            pipe.xrevrange(keys.audit_checkpoints(shard), count=1)
            pipe.xlen(keys.audit_log(shard))
        replies = await pipe.execute(raise_on_error=False)
    lag: dict[str, int] = {}
    pending: dict[str, int] = {}
    dead: dict[str, int] = {}
    unknown_lag: list[str] = []
    for i, agent_id in enumerate(ids):
        groups, dlq_len = replies[2 * i], replies[2 * i + 1]
        dead[agent_id] = dlq_len if isinstance(dlq_len, int) else 0
        if isinstance(groups, Exception):
            continue  # no outbox yet: nothing queued
        for group in groups:
            if as_text(group.get("name", b"")) != keys.GATEWAY_GROUP:
                continue
            pending[agent_id] = int(group.get("pending") or 0)
            group_lag = group.get("lag")
            if group_lag is None:
                unknown_lag.append(agent_id)  # Redis cannot tell (entries were deleted)
            else:
                lag[agent_id] = int(group_lag)
    gateway_dlq, versions, *audit = replies[2 * len(ids) :]
    checkpoints = max(
        (reply[0] for reply in audit[0::2] if isinstance(reply, list) and reply),
        key=lambda newest: _stream_time(newest[0]),  # pyright: ignore[reportUnknownArgumentType, reportUnknownLambdaType]
        default=None,
    )
    audit_len = sum(n for n in audit[1::2] if isinstance(n, int))
    gateways = await read_presence(client)
    alive = [g for g in gateways if g.alive(now)]
    checkpoint: dict[str, Any] | None = None
    if checkpoints is not None:
        at = _stream_time(checkpoints[0])  # pyright: ignore[reportUnknownArgumentType]
        checkpoint = {"at": at, "age_s": round(now - at, 3)}
    latest_version: dict[str, Any] | None = None
    if isinstance(versions, list) and versions:
        entry_id, fields = versions[0]
        text = {as_text(k): as_text(v) for k, v in fields.items()}
        latest_version = {
            "version": text.get("version"),
            "gateway_id": text.get("gateway_id"),
            "at": _stream_time(entry_id),
        }
    return {
        "time": now,
        "agents": len(ids),
        "gateways": {
            "alive": len(alive),
            "records": [
                {
                    "gateway_id": g.gateway_id,
                    "consumer": g.consumer,
                    "alive": g.alive(now),
                    "policy_version": g.policy_version,
                    "started_at": g.started_at,
                    "last_batch_at": g.last_batch_at,
                    "last_batch_age_s": None
                    if g.last_batch_at is None
                    else round(now - g.last_batch_at, 3),
                    "updated_age_s": round(now - g.updated_at, 3),
                }
                for g in gateways
            ],
        },
        "outboxes": {
            "lag": sum(lag.values()),
            "pending": sum(pending.values()),
            "lag_unknown": unknown_lag,
            "top_lag": _top(lag, top),
            "top_pending": _top(pending, top),
        },
        "dead_letters": {
            "gateway": gateway_dlq if isinstance(gateway_dlq, int) else 0,
            "agents": sum(dead.values()),
            "top_agents": _top(dead, top),
        },
        "audit": {
            "entries": audit_len,
            "last_checkpoint": checkpoint,
        },
        "policy": {
            "in_force": sorted({g.policy_version for g in alive if g.policy_version}),
            "latest_recorded": latest_version,
        },
    }
