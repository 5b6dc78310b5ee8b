"""Routing check: the target must be a known, non-revoked agent (else 503).

A known agent that is stopped is a valid target: its stream keeps the message
until it starts again.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from mas.errors import TargetUnavailable

from ..agent_records import AgentRecord, queue_records
from ..context import MessageContext
from .base import Batch, Decode, look_up

__all__ = ["TargetStage"]


class TargetStage:
    """Looks up every target of a batch in one round trip."""

    name = "target"

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client

    def queue_reads(self, contexts: Sequence[MessageContext], pipe: Pipeline) -> Decode:
        """Queue the reads of the registry records of the distinct targets."""
        return queue_records(pipe, {ctx.envelope.target_id for ctx in contexts if ctx.envelope})

    async def prepare(self, batch: Batch[None]) -> dict[str, AgentRecord]:
        """The registry records of the batch's distinct targets."""
        return await look_up(self, batch)

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
