"""Routing check: the target must be a known, non-revoked agent (else 503).

A known agent that is stopped is a valid target: its stream keeps the message
until it starts again.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from mas.errors import TargetUnavailable

from ..agent_records import AgentRecord, fetch_records
from ..context import MessageContext
from .base import Batch

__all__ = ["TargetStage"]


class TargetStage:
    """Looks up every target of a batch in one round trip."""

    name = "target"

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client

    async def prepare(self, batch: Batch[None]) -> dict[str, AgentRecord]:
        """The registry records of the batch's distinct targets."""
        targets = {ctx.envelope.target_id for ctx in batch.contexts if ctx.envelope}
        return await fetch_records(self._client, targets)

    async def check(self, ctx: MessageContext, batch: Batch[dict[str, AgentRecord]]) -> None:
        """Raise `TargetUnavailable` for unknown or revoked targets."""
        assert ctx.envelope is not None
        target = ctx.envelope.target_id
        record = batch.prepared.get(target)
        mid = ctx.message_id
        if record is None or record.identity is None:
            # The id is withheld from every record after the batch (see processor).
            raise TargetUnavailable(f"unknown target agent {target!r}", message_id=mid)
        if record.trust.revoked:
            raise TargetUnavailable(f"target agent {target!r} is revoked", message_id=mid)
