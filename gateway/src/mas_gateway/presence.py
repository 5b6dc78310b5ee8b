"""Gateway presence: each gateway process keeps a small heartbeat record in Redis.

The record lives in the hash ``mas.gateway.presence`` (one field per gateway
consumer, only gateways may write it) and says which gateway runs, the policy
version it has in force, when it started and when it last committed a decision.
`mas status` reads it; a record not refreshed for `STALE_AFTER` intervals belongs to
a gateway that is gone (a clean stop deletes it; records of crashed gateways are
pruned after `PRUNE_AFTER_S`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mas import keys
from mas.outage import Outage
from mas.redis_text import as_text

from .logsafe import log_failure

if TYPE_CHECKING:
    from .context import MessageContext
    from .policy import PolicyStore

__all__ = [
    "INTERVAL_S",
    "PRUNE_AFTER_S",
    "STALE_AFTER",
    "GatewayPresence",
    "PresenceRecord",
    "read_presence",
]

log = logging.getLogger(__name__)

INTERVAL_S = 5.0
"""How often a gateway refreshes its record."""
MIN_GAP_S = 1.0
"""A committed batch refreshes the record at once, but at most this often."""
STALE_AFTER = 3
"""A record not refreshed for this many intervals belongs to a gateway that is gone."""
PRUNE_AFTER_S = 24 * 3600.0
"""Records this old are deleted by any live gateway (a crashed gateway cannot)."""


@dataclass(frozen=True)
class PresenceRecord:
    """What one gateway process says about itself."""

    consumer: str
    gateway_id: str
    policy_version: str | None
    started_at: float
    last_batch_at: float | None
    updated_at: float
    interval_s: float

    def alive(self, now: float) -> bool:
        """True while the record is refreshed on time."""
        return now - self.updated_at <= self.interval_s * STALE_AFTER

    @classmethod
    def from_json(cls, consumer: str, text: str) -> PresenceRecord | None:
        """Decode a stored record; None when it is malformed."""
        try:
            raw: Any = json.loads(text)
            return cls(
                consumer=consumer,
                gateway_id=str(raw["gateway_id"]),
                policy_version=raw.get("policy_version"),
                started_at=float(raw["started_at"]),
                last_batch_at=None
                if raw.get("last_batch_at") is None
                else float(raw["last_batch_at"]),
                updated_at=float(raw["updated_at"]),
                interval_s=float(raw.get("interval_s") or INTERVAL_S),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def to_json(self) -> str:
        """The stored form (the consumer is the hash field)."""
        fields = asdict(self)
        del fields["consumer"]
        return json.dumps(fields, separators=(",", ":"))


class GatewayPresence:
    """Publishes one gateway's record every `interval_s` until stopped, then deletes it."""

    def __init__(
        self,
        client: aioredis.Redis,
        consumer: str,
        gateway_id: str,
        policy: PolicyStore,
        *,
        interval_s: float = INTERVAL_S,
    ) -> None:
        self._client = client
        self._consumer = consumer
        self._gateway_id = gateway_id
        self._policy = policy
        self._interval = interval_s
        self._started_at = time.time()
        self.last_batch_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._batch = asyncio.Event()

    def listener(self, ctx: MessageContext) -> None:
        """A decision listener: a batch was committed now."""
        self.last_batch_at = time.time()
        self._batch.set()

    def record(self) -> PresenceRecord:
        """This gateway's record as of now."""
        return PresenceRecord(
            consumer=self._consumer,
            gateway_id=self._gateway_id,
            policy_version=self._policy.current.version,
            started_at=self._started_at,
            last_batch_at=self.last_batch_at,
            updated_at=time.time(),
            interval_s=self._interval,
        )

    async def publish(self) -> None:
        """Write the record once, and prune records of gateways long gone."""
        now = time.time()
        await self._client.hset(keys.GATEWAY_PRESENCE, self._consumer, self.record().to_json())  # type: ignore[misc]
        stale = [
            r.consumer
            for r in await read_presence(self._client)
            if now - r.updated_at > PRUNE_AFTER_S
        ]
        if stale:
            await self._client.hdel(keys.GATEWAY_PRESENCE, *stale)  # type: ignore[misc]

    async def start(self) -> None:
        """Publish now (errors are the caller's), then keep the record fresh in a task."""
        await self.publish()
        self._task = asyncio.create_task(self._loop(), name="gateway-presence")

    async def _loop(self) -> None:
        outage = Outage("publishing gateway presence", log)
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._batch.wait()
            self._batch.clear()
            try:
                await self.publish()
            except RedisError as exc:
                outage.note(exc)
            except Exception:
                log_failure(log, "publishing gateway presence failed; will retry")
            else:
                outage.recovered()
            await asyncio.sleep(MIN_GAP_S)

    async def stop(self) -> None:
        """Stop refreshing and delete the record (best effort: Redis may be away)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self._client.hdel(keys.GATEWAY_PRESENCE, self._consumer)  # type: ignore[misc]
        except RedisError as exc:
            log.warning("could not delete this gateway's presence record: %s", exc)


async def read_presence(client: aioredis.Redis) -> list[PresenceRecord]:
    """Every gateway record, sorted by gateway id and consumer; malformed ones skipped."""
    raw = await client.hgetall(keys.GATEWAY_PRESENCE)  # type: ignore[misc]
    records = [PresenceRecord.from_json(as_text(k), as_text(v)) for k, v in raw.items()]
    found = [r for r in records if r is not None]
    return sorted(found, key=lambda r: (r.gateway_id, r.consumer))
