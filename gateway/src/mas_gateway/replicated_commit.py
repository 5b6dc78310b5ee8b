"""The commit, then a wait for replicas: a batch is on `commit_replicas` replicas before the next.

With Sentinel, the gateway's commit lands on the primary and reaches the replicas
asynchronously. With ``commit_replicas`` > 0 the gateway writes a fence key after
each batch's commit and ``WAIT``s for that many replicas (`mas.replication`)
before it processes the next batch or tells anyone (metrics, listeners, the audit
checkpointer's next read) that the batch is done; while replicas lag or Redis
fails over, it waits, logging the outage once. See ARCHITECTURE.md, "High
availability", for what this adds to the submission's own wait.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

import redis.asyncio as aioredis

from mas import keys
from mas.replication import ReplicaFence

from .context import MessageContext
from .delivery import Committer, Outcome

__all__ = ["ReplicatedCommitter", "replica_fence"]

log = logging.getLogger(__name__)


def replica_fence(
    client: aioredis.Redis,
    consumer: str,
    *,
    replicas: int,
    timeout_ms: int,
    what: str = "the committed batch",
) -> ReplicaFence | None:
    """The fence of one gateway process, or None when no replica is asked for."""
    if replicas <= 0:
        return None
    return ReplicaFence(
        client,
        keys.replica_fence(consumer),
        replicas=replicas,
        timeout_ms=timeout_ms,
        logger=log,
        what=f"waiting for {replicas} replica(s) to hold {what}",
    )


class ReplicatedCommitter(Committer):
    """A `Committer` whose commit returns once the replicas hold it (when `fence` is set)."""

    fence: ReplicaFence | None = None

    async def commit(
        self,
        batch: Sequence[MessageContext],
        *,
        tell: Collection[str] = (),
        withdrawn: Collection[tuple[str, str]] = (),
    ) -> list[Outcome]:
        outcomes = await super().commit(batch, tell=tell, withdrawn=withdrawn)
        if self.fence is not None and batch:
            await self.fence.wait()
        return outcomes
