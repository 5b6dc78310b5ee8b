"""Registry: an agent's own profile and liveness, and discovery over the directory.

An agent writes only its own keys (all in its hash tag): its profile, its
heartbeat and the liveness of its instances, in MULTI/EXEC transactions. The
list of agents (``mas.agents``) and their identities are the operator's; the
gateway's trust records are out of an agent's reach. Discovery reads the list and
each listed agent's profile and heartbeat, so nothing an agent writes can make it
appear under another id.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import redis.asyncio as aioredis

from . import keys
from .records import Identity, Profile, Status
from .redis_text import as_text

__all__ = ["Registry"]


class Registry:
    """One agent instance's view of the registry: register, heartbeat, deregister, discover."""

    def __init__(self, redis: aioredis.Redis, agent_id: str, instance_id: str) -> None:
        self._redis = redis
        self.agent_id = agent_id
        self.instance_id = instance_id
        self._record = keys.agent_record(agent_id)
        self._heartbeat = keys.agent_heartbeat(agent_id)
        self._instances = keys.agent_instances(agent_id)
        self._instance = keys.agent_instance(agent_id, instance_id)

    async def _event(self, event: str, **details: Any) -> None:
        body = {"type": event, "agent_id": self.agent_id, "timestamp": time.time(), **details}
        channel = keys.agent_events_channel(self.agent_id)
        await self._redis.publish(channel, json.dumps(body, separators=(",", ":")))

    def _mark_alive(self, pipe: Any, ttl_ms: int) -> None:
        pipe.set(self._heartbeat, self.instance_id, px=ttl_ms)
        pipe.sadd(self._instances, self.instance_id)
        pipe.set(self._instance, repr(time.time()), px=ttl_ms)

    async def register(
        self, capabilities: Sequence[str], metadata: dict[str, Any], ttl: float
    ) -> None:
        """Write the profile, mark ACTIVE and set this instance's liveness (one transaction)."""
        profile = Profile(
            agent_id=self.agent_id,
            capabilities=tuple(capabilities),
            metadata=metadata,
            status=Status.ACTIVE,
            registered_at=time.time(),
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._record, mapping=profile.to_mapping())
            self._mark_alive(pipe, int(ttl * 1000))
            await pipe.execute()
        await self._event(
            "REGISTER",
            instance_id=self.instance_id,
            capabilities=list(capabilities),
            status=Status.ACTIVE,
        )

    async def heartbeat(self, ttl: float) -> int:
        """Refresh liveness; 1 refreshed, 2 reactivated, -2 the profile vanished."""
        status = await self._redis.hget(self._record, "status")
        if status is None:
            return -2
        async with self._redis.pipeline(transaction=True) as pipe:
            self._mark_alive(pipe, int(ttl * 1000))
            if as_text(status) != Status.ACTIVE:
                pipe.hset(self._record, "status", Status.ACTIVE)
            await pipe.execute()
        if as_text(status) != Status.ACTIVE:
            await self._event("STATUS", status=Status.ACTIVE, reason="heartbeat resumed")
            return 2
        return 1

    async def deregister(self) -> bool:
        """Remove this instance; mark INACTIVE if it was the last live one. True if so.

        No ``WATCH`` (redis-py's cluster client cannot read inside one): the other
        instances are read first, then one transaction in the agent's slot removes this
        instance and the dead ones. An instance that registers between the two steps
        may see its profile marked INACTIVE; its next heartbeat marks it ACTIVE again.
        """
        members = await self._redis.smembers(self._instances)  # type: ignore[misc]
        others = sorted(as_text(m) for m in members if as_text(m) != self.instance_id)
        reads = self._redis.pipeline(transaction=False)
        for other in others:
            reads.exists(keys.agent_instance(self.agent_id, other))
        reads.hget(self._record, "status")
        *alive_replies, status = await reads.execute()
        alive = [bool(live) for live in alive_replies]
        last = not any(alive)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.srem(self._instances, self.instance_id)
            pipe.delete(self._instance)
            for other, live in zip(others, alive, strict=True):
                if not live:
                    pipe.srem(self._instances, other)
            if last:
                pipe.delete(self._heartbeat)
                if status is not None and as_text(status) == Status.ACTIVE:
                    pipe.hset(self._record, "status", Status.INACTIVE)
            await pipe.execute()
        await self._event(
            "DEREGISTER",
            instance_id=self.instance_id,
            status=Status.INACTIVE if last else Status.ACTIVE,
        )
        return last

    async def identity(self, agent_id: str) -> Identity | None:
        """The operator-registered public key of any agent (None if unknown)."""
        return Identity.from_hash(await self._redis.hgetall(keys.agent_identity(agent_id)))

    async def discover(
        self,
        capabilities: Iterable[str] | None = None,
        match: Literal["any", "all"] = "any",
    ) -> list[dict[str, Any]]:
        """Live agents having any (default) or all of `capabilities`; every live agent if none."""
        if match not in ("any", "all"):
            raise ValueError("discover(match=...) must be 'any' or 'all'")
        if isinstance(capabilities, str):
            raise TypeError("discover(capabilities=...) takes a list of capability names")
        wanted = set(capabilities or ())
        ordered = sorted(as_text(i) for i in await self._redis.smembers(keys.ALL_AGENTS))
        if not ordered:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for agent_id in ordered:
            pipe.hgetall(keys.agent_record(agent_id))
            pipe.exists(keys.agent_heartbeat(agent_id))
        replies = await pipe.execute(raise_on_error=False)
        found: list[dict[str, Any]] = []
        for i, agent_id in enumerate(ordered):
            raw, alive = replies[2 * i], replies[2 * i + 1]
            if isinstance(raw, Exception) or isinstance(alive, Exception):
                continue  # an agent's broken record never breaks discovery for the others
            if not raw or not alive:
                continue
            profile = Profile.from_hash(agent_id, raw)
            if profile.status != Status.ACTIVE:
                continue
            offered = set(profile.capabilities)
            if wanted and not (wanted <= offered if match == "all" else wanted & offered):
                continue
            found.append(profile.public())
        return found
