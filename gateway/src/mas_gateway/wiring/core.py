"""What every part of a gateway is built from: its connection, identity, settings and stops."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass

import redis.asyncio as aioredis

from mas.replication import ReplicaFence

from ..replicated_commit import replica_fence
from ..settings import GatewaySettings
from ..signing import GatewayKey

__all__ = ["Core"]


@dataclass(frozen=True)
class Core:
    """The started basics of one gateway process, handed to each builder."""

    client: aioredis.Redis
    key: GatewayKey
    settings: GatewaySettings
    consumer: str
    """This process's consumer name in the outboxes' group (unique per start of a process)."""
    closers: AsyncExitStack
    """Each started part registers its stop here; they run in reverse order."""

    def replica_fence(self, what: str = "the committed batch") -> ReplicaFence | None:
        """This process's wait for ``commit_replicas`` replicas, or None when none is asked for."""
        return replica_fence(
            self.client,
            self.consumer,
            replicas=self.settings.commit_replicas,
            timeout_ms=self.settings.replica_timeout_ms,
            what=what,
        )
