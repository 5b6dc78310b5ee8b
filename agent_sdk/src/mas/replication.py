"""Wait until replicas hold what was written: ``WAIT`` for durability across a failover.

Redis replicates asynchronously: a write a client saw succeed can be lost if the
primary dies before a replica received it, and Sentinel then promotes a replica
without it. ``WAIT n timeout`` blocks until `n` replicas acknowledged every write
the calling connection made. Two ways to use it here:

- `write_and_wait`: the SDK puts ``WAIT`` in the same pipelined round trip (one
  connection) as the submission's ``XADD``; fewer replicas than asked raise
  `ReplicasBehind`, a transient error, so the transport resubmits (same message
  id: delivered once).
- `ReplicaFence`: a writer whose writes went over other connections (the gateway's
  commit pipeline) writes a small fence key and ``WAIT``s on that connection. The
  replication stream is ordered, so a replica that has the fence has every write
  completed before it.

Sentinel promotes the replica with the largest replication offset, so a write one
replica acknowledged survives the loss of the primary (ARCHITECTURE.md, "High
availability").
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from .outage import Outage, ReplicasBehind, is_transient

__all__ = ["ReplicaFence", "ReplicasBehind", "fence_and_wait", "write_and_wait"]

FENCE_TTL_MS = 60_000
"""A fence key expires by itself: it only matters for the instant of its ``WAIT``."""


def _check(acknowledged: object, wanted: int, timeout_ms: int) -> None:
    count = int(acknowledged) if isinstance(acknowledged, int | str | bytes) else 0
    if count < wanted:
        raise ReplicasBehind(count, wanted, timeout_ms)


async def write_and_wait(
    client: aioredis.Redis,
    write: Callable[[Pipeline], object],
    *,
    replicas: int,
    timeout_ms: int,
) -> None:
    """Queue `write`, then ``WAIT`` for `replicas` replicas, in one round trip on one connection.

    Raises `ReplicasBehind` when fewer acknowledged within `timeout_ms`.
    """
    pipe = client.pipeline(transaction=False)
    write(pipe)
    pipe.wait(replicas, timeout_ms)
    *_, acknowledged = await pipe.execute()
    _check(acknowledged, replicas, timeout_ms)


async def fence_and_wait(
    client: aioredis.Redis, fence_key: str, *, replicas: int, timeout_ms: int
) -> None:
    """Write `fence_key` and ``WAIT`` on that connection: covers every earlier write."""
    await write_and_wait(
        client,
        lambda pipe: pipe.set(fence_key, b"1", px=FENCE_TTL_MS),
        replicas=replicas,
        timeout_ms=timeout_ms,
    )


class ReplicaFence:
    """Blocks until `replicas` replicas hold every write made before `wait()` was called.

    Retries (capped backoff, one log line per outage) through transient errors and
    through replicas that lag, for as long as it takes: a writer that asked for
    replicated writes does not go on without them.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        fence_key: str,
        *,
        replicas: int,
        timeout_ms: int,
        logger: logging.Logger,
        what: str = "waiting for replicas",
    ) -> None:
        self._client = client
        self._key = fence_key
        self.replicas = replicas
        self.timeout_ms = timeout_ms
        self._outage = Outage(what, logger)

    async def wait(self) -> None:
        """Return once the replicas acknowledged; a non-transient error propagates."""
        if self.replicas <= 0:
            return
        while True:
            try:
                await fence_and_wait(
                    self._client, self._key, replicas=self.replicas, timeout_ms=self.timeout_ms
                )
            except Exception as exc:
                if not is_transient(exc):
                    raise
                await self._outage.failed(exc)
                continue
            self._outage.recovered()
            return
