"""DeliveryLedger: how a delivery ends: acknowledged and remembered, retried, or dead-lettered."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from . import keys
from .redis_text import as_text

__all__ = ["DeliveryLedger"]


class DeliveryLedger:
    """Acknowledgements, dedup markers, handler errors and dead letters for one agent's stream."""

    def __init__(self, redis: aioredis.Redis, agent_id: str, *, dedup_ttl: float) -> None:
        self._redis = redis
        self._agent_id = agent_id
        self._stream = keys.agent_stream(agent_id)
        self._errors = keys.agent_errors(agent_id)
        self._dedup_ttl_ms = int(dedup_ttl * 1000)

    async def is_done(self, message_id: str) -> bool:
        """True when a handler already completed this message id."""
        return bool(await self._redis.exists(keys.agent_done(self._agent_id, message_id)))

    async def complete(self, entry_id: str, message_id: str) -> None:
        """Acknowledge and remember the message id, atomically (MULTI/EXEC)."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.xack(self._stream, keys.AGENTS_GROUP, entry_id)
        pipe.set(keys.agent_done(self._agent_id, message_id), "1", px=self._dedup_ttl_ms)
        pipe.hdel(self._errors, entry_id)
        await pipe.execute()

    async def skip(self, entry_id: str) -> None:
        """Acknowledge an entry whose message was already handled."""
        await self._redis.xack(self._stream, keys.AGENTS_GROUP, entry_id)

    async def record_failure(self, entry_id: str, error: str) -> None:
        """Remember the last handler error of an entry left pending for redelivery."""
        await self._redis.hset(self._errors, entry_id, error)

    async def last_error(self, entry_id: str) -> str | None:
        """The last recorded handler error of an entry, if any."""
        value = await self._redis.hget(self._errors, entry_id)
        return as_text(value) if value is not None else None

    async def dead_letter(
        self, entry_id: str, fields: dict[str, bytes], reason: str, *, error: str | None = None
    ) -> None:
        """Copy the entry to the dead-letter stream with its reason and ack it, atomically."""
        letter: dict[str, bytes | str] = {
            **fields,
            "dlq_reason": reason,
            "dlq_source": self._agent_id,
            "dlq_stream": self._stream,
            "dlq_entry_id": entry_id,
            "dlq_at": repr(time.time()),
        }
        if error is not None:
            letter["dlq_error"] = error
        pipe = self._redis.pipeline(transaction=True)
        pipe.xadd(keys.DLQ, letter)  # type: ignore[arg-type]
        pipe.xack(self._stream, keys.AGENTS_GROUP, entry_id)
        pipe.hdel(self._errors, entry_id)
        await pipe.execute()
