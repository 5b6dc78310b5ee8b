"""AckRetryingLedger: the end of a delivery is recorded even through a Redis outage.

When acknowledging a finished handler's entry fails with a transient Redis error,
letting the entry stay pending would run the handler again on redelivery. So
`complete`, `skip`, `record_failure` and `dead_letter` are retried with capped
backoff until they succeed or the instance stops (each is one MULTI/EXEC whose
effect is the same when applied twice, except that a dead letter whose reply was
lost may be written twice). Meanwhile the entry stays in flight, so the consumer
keeps its claim and the dispatcher its handling lease.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .backoff import Backoff
from .ledger import DeliveryLedger
from .outage import Outage, is_transient

__all__ = ["AckRetryingLedger"]

logger = logging.getLogger(__name__)


class AckRetryingLedger(DeliveryLedger):
    """A `DeliveryLedger` whose closing transactions are retried through transient errors."""

    def __init__(
        self, redis: aioredis.Redis, agent_id: str, *, dedup_ttl: float, lease: float
    ) -> None:
        super().__init__(redis, agent_id, dedup_ttl=dedup_ttl, lease=lease)
        self._outage = Outage(f"agent {agent_id}: acknowledging deliveries", logger)

    async def _until_done(self, attempt: Callable[[], Awaitable[None]]) -> None:
        backoff = Backoff()
        while True:
            try:
                await attempt()
            except (RedisError, OSError) as exc:
                if not is_transient(exc):
                    raise
                self._outage.note(exc)
                await backoff.wait()  # cancelled when the instance stops
                continue
            self._outage.recovered()
            return

    async def complete(self, entry_id: str, message_id: str) -> None:
        """`DeliveryLedger.complete`, retried through transient errors."""
        parent = super()
        await self._until_done(lambda: parent.complete(entry_id, message_id))

    async def skip(self, entry_id: str, message_id: str | None = None) -> None:
        """`DeliveryLedger.skip`, retried through transient errors."""
        parent = super()
        await self._until_done(lambda: parent.skip(entry_id, message_id))

    async def record_failure(self, entry_id: str, message_id: str, error: str) -> None:
        """`DeliveryLedger.record_failure`, retried through transient errors."""
        parent = super()
        await self._until_done(lambda: parent.record_failure(entry_id, message_id, error))

    async def dead_letter(
        self,
        entry_id: str,
        fields: dict[str, bytes],
        reason: str,
        *,
        error: str | None = None,
        message_id: str | None = None,
    ) -> None:
        """`DeliveryLedger.dead_letter`, retried through transient errors."""
        parent = super()

        async def attempt() -> None:
            await parent.dead_letter(entry_id, fields, reason, error=error, message_id=message_id)

        await self._until_done(attempt)
