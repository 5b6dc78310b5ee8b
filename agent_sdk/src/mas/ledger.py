"""DeliveryLedger: how a delivery ends: acknowledged and remembered, retried, or dead-lettered."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import redis.asyncio as aioredis

from . import keys
from .coalesce import Coalescer
from .redis_text import as_text

__all__ = ["DeliveryLedger"]


class DeliveryLedger:
    """Acks, dedup markers, handling leases, handler errors and dead letters of one stream.

    A message id is *done* once a handler completed it (marker kept `dedup_ttl`), and
    *leased* while one instance handles it, so that duplicates of a message never
    run twice, even on different instances. Each ending also counts in the agent's
    health hash (ok, failed, dead), which the gateway's circuit breakers read.

    Round trips are shared: `begin_many` asks about a whole read batch at once, and
    completions of handlers that finish while another completion is in flight go
    together in the next `MULTI/EXEC` (one dedup marker per message, one XACK, XDEL,
    HDEL and DEL for all of them).
    """

    def __init__(
        self, redis: aioredis.Redis, agent_id: str, *, dedup_ttl: float, lease: float
    ) -> None:
        self._redis = redis
        self._agent_id = agent_id
        self._stream = keys.agent_stream(agent_id)
        self._errors = keys.agent_errors(agent_id)
        self._dlq = keys.agent_dlq(agent_id)
        self._health = keys.agent_health(agent_id)
        self._dedup_ttl_ms = int(dedup_ttl * 1000)
        self._lease_ms = max(int(lease * 1000), 1)
        self._completions: Coalescer[tuple[str, str], None] = Coalescer(
            self._complete_all, name=f"mas-ack-{agent_id}"
        )

    def _done(self, message_id: str) -> str:
        return keys.agent_done(self._agent_id, message_id)

    def _lease(self, message_id: str) -> str:
        return keys.agent_handling(self._agent_id, message_id)

    async def begin(self, message_id: str, owner: str) -> tuple[bool, bool]:
        """(already done, lease acquired) for a message about to be handled."""
        return (await self.begin_many([message_id], owner))[0]

    async def begin_many(self, message_ids: Sequence[str], owner: str) -> list[tuple[bool, bool]]:
        """`begin` for several distinct messages in one round trip."""
        if not message_ids:
            return []
        pipe = self._redis.pipeline(transaction=False)
        pipe.mget([self._done(message_id) for message_id in message_ids])
        for message_id in message_ids:
            pipe.set(self._lease(message_id), owner, nx=True, px=self._lease_ms)
        done, *leased = await pipe.execute()
        return [(d is not None, bool(lease)) for d, lease in zip(done, leased, strict=True)]

    async def refresh(self, message_ids: Iterable[str]) -> None:
        """Extend the leases of messages still being handled."""
        pipe = self._redis.pipeline(transaction=False)
        for message_id in message_ids:
            pipe.pexpire(self._lease(message_id), self._lease_ms)
        await pipe.execute()

    async def release(self, message_id: str) -> None:
        """Give up the lease of a message left pending for a retry."""
        await self._redis.delete(self._lease(message_id))

    async def complete(self, entry_id: str, message_id: str) -> None:
        """Ack and delete the entry, remember the message id, drop the lease (MULTI/EXEC)."""
        await self._completions.submit((entry_id, message_id))

    async def _complete_all(self, items: list[tuple[str, str]]) -> list[BaseException | None]:
        """`complete` for each (entry id, message id), all in one MULTI/EXEC.

        The commands that take many ids (XACK, XDEL, HDEL, DEL) run once for the
        batch; only each message's dedup marker is a command of its own.
        """
        entry_ids = [entry_id for entry_id, _ in items]
        pipe = self._redis.pipeline(transaction=True)
        for _, message_id in items:
            pipe.set(self._done(message_id), "1", px=self._dedup_ttl_ms)
        pipe.xack(self._stream, keys.AGENTS_GROUP, *entry_ids)
        pipe.xdel(self._stream, *entry_ids)  # handled: the stream keeps only what is still due
        pipe.hdel(self._errors, *entry_ids)
        pipe.delete(*(self._lease(message_id) for _, message_id in items))
        pipe.hincrby(self._health, "ok", len(items))
        replies = await pipe.execute(raise_on_error=False)
        shared = next((r for r in replies[len(items) :] if isinstance(r, BaseException)), None)
        if shared is not None:
            return [shared] * len(items)
        return [r if isinstance(r, BaseException) else None for r in replies[: len(items)]]

    async def skip(self, entry_id: str, message_id: str | None = None) -> None:
        """Ack and delete an entry whose message was already handled (and drop our lease)."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.xack(self._stream, keys.AGENTS_GROUP, entry_id)
        pipe.xdel(self._stream, entry_id)
        if message_id is not None:
            pipe.delete(self._lease(message_id))
        await pipe.execute()

    async def record_failure(self, entry_id: str, message_id: str, error: str) -> None:
        """Remember the handler error of an entry left pending for redelivery; drop the lease."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._errors, entry_id, error)
        pipe.delete(self._lease(message_id))
        pipe.hincrby(self._health, "failed", 1)
        await pipe.execute()

    async def last_error(self, entry_id: str) -> str | None:
        """The last recorded handler error of an entry, if any."""
        value = await self._redis.hget(self._errors, entry_id)
        return as_text(value) if value is not None else None

    async def dead_letter(
        self,
        entry_id: str,
        fields: dict[str, bytes],
        reason: str,
        *,
        error: str | None = None,
        message_id: str | None = None,
    ) -> None:
        """Copy the entry to the agent's dead letters with its reason and ack it, atomically."""
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
        pipe.xadd(self._dlq, letter)  # type: ignore[arg-type]
        pipe.xack(self._stream, keys.AGENTS_GROUP, entry_id)
        pipe.xdel(self._stream, entry_id)
        pipe.hdel(self._errors, entry_id)
        if message_id is not None:
            pipe.delete(self._lease(message_id))
        pipe.hincrby(self._health, "dead", 1)
        await pipe.execute()
