"""Registry: agent records, liveness of instances, and discovery through capability indexes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import redis.asyncio as aioredis

from . import keys
from .errors import CredentialsError
from .events import publish_event
from .redis_text import as_text
from .scripts import Scripts

__all__ = ["PRIVATE_FIELDS", "Registry", "public_record"]

PRIVATE_FIELDS = frozenset({"token_hash", "public_key", "key_id"})
"""Record fields never returned by discovery."""

_JSON_FIELDS = {"capabilities": list, "metadata": dict, "roles": list}


def public_record(raw: dict[Any, Any]) -> dict[str, Any]:
    """A registry hash as discovery returns it: JSON fields decoded, key material removed."""
    record: dict[str, Any] = {}
    for key, value in raw.items():
        name = as_text(key)
        if name in PRIVATE_FIELDS:
            continue
        text = as_text(value)
        if name in _JSON_FIELDS:
            try:
                decoded = json.loads(text)
            except json.JSONDecodeError:
                decoded = None
            record[name] = (
                decoded if isinstance(decoded, _JSON_FIELDS[name]) else (_JSON_FIELDS[name]())
            )
        elif name == "registered_at":
            try:
                record[name] = float(text)
            except ValueError:
                record[name] = 0.0
        else:
            record[name] = text
    return record


class Registry:
    """One agent instance's view of the registry: register, heartbeat, deregister, discover."""

    def __init__(
        self, redis: aioredis.Redis, scripts: Scripts, agent_id: str, instance_id: str
    ) -> None:
        self._redis = redis
        self._scripts = scripts
        self.agent_id = agent_id
        self.instance_id = instance_id

    def _liveness_keys(self) -> list[str]:
        return [
            keys.agent_record(self.agent_id),
            keys.agent_heartbeat(self.agent_id),
            keys.agent_instances(self.agent_id),
            keys.agent_instance(self.agent_id, self.instance_id),
        ]

    async def register(
        self, capabilities: Sequence[str], metadata: dict[str, Any], ttl: float
    ) -> None:
        """Write the record, mark ACTIVE, set liveness keys and join the capability indexes.

        Raises:
            CredentialsError: the agent is REVOKED in the registry.
        """
        record_key = keys.agent_record(self.agent_id)
        old_raw = await self._redis.hget(record_key, "capabilities")
        old: list[str] = []
        if old_raw:
            try:
                loaded = json.loads(old_raw)
                old = [c for c in loaded if isinstance(c, str)] if isinstance(loaded, list) else []
            except json.JSONDecodeError:
                old = []
        leave = [c for c in old if c not in capabilities]
        script_keys = [
            record_key,
            keys.ALL_AGENTS,
            keys.agent_heartbeat(self.agent_id),
            keys.agent_instances(self.agent_id),
            keys.agent_instance(self.agent_id, self.instance_id),
            *(keys.capability_index(c) for c in capabilities),
            *(keys.capability_index(c) for c in leave),
        ]
        result = await self._scripts.register(
            keys=script_keys,
            args=[
                self.agent_id,
                json.dumps(list(capabilities)),
                json.dumps(metadata, default=str),
                repr(time.time()),
                int(ttl * 1000),
                self.instance_id,
                len(capabilities),
            ],
        )
        if int(result) == -1:
            raise CredentialsError(f"agent {self.agent_id!r} is REVOKED in the registry")
        await publish_event(
            self._redis,
            "REGISTER",
            self.agent_id,
            instance_id=self.instance_id,
            capabilities=list(capabilities),
            status="ACTIVE",
        )

    async def heartbeat(self, ttl: float) -> int:
        """Refresh liveness; 1 ok, 2 reactivated, -1 revoked, -2 record missing."""
        result = int(
            await self._scripts.heartbeat(
                keys=self._liveness_keys(),
                args=[int(ttl * 1000), self.instance_id, repr(time.time())],
            )
        )
        if result == 2:
            await publish_event(
                self._redis, "STATUS", self.agent_id, status="ACTIVE", reason="heartbeat resumed"
            )
        return result

    async def deregister(self) -> bool:
        """Remove this instance; mark INACTIVE if it was the last live one. True if so."""
        members = await self._redis.smembers(keys.agent_instances(self.agent_id))
        others = sorted(as_text(m) for m in members if as_text(m) != self.instance_id)
        result = await self._scripts.deregister(
            keys=[
                *self._liveness_keys()[:3],
                keys.agent_instance(self.agent_id, self.instance_id),
                *(keys.agent_instance(self.agent_id, other) for other in others),
            ],
            args=[self.instance_id, *others],
        )
        last = int(result) == 1
        await publish_event(
            self._redis,
            "DEREGISTER",
            self.agent_id,
            instance_id=self.instance_id,
            status="INACTIVE" if last else "ACTIVE",
        )
        return last

    async def record(self, agent_id: str) -> dict[str, str]:
        """The raw registry hash of any agent (empty if unknown)."""
        raw = await self._redis.hgetall(keys.agent_record(agent_id))
        return {as_text(k): as_text(v) for k, v in raw.items()}

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
        wanted = sorted(set(capabilities or ()))
        if not wanted:
            ids = await self._redis.smembers(keys.ALL_AGENTS)
        else:
            index_keys = [keys.capability_index(c) for c in wanted]
            if match == "all":
                ids = await self._redis.sinter(index_keys)
            else:
                ids = await self._redis.sunion(index_keys)
        ordered = sorted(as_text(i) for i in ids)
        if not ordered:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for agent_id in ordered:
            pipe.hgetall(keys.agent_record(agent_id))
            pipe.exists(keys.agent_heartbeat(agent_id))
        replies = await pipe.execute()
        found: list[dict[str, Any]] = []
        for i in range(len(ordered)):
            raw, alive = replies[2 * i], replies[2 * i + 1]
            if not raw or not alive:
                continue
            record = public_record(raw)
            if record.get("status") == "ACTIVE":
                found.append(record)
        return found
