"""De-duplication: a sender's message id is forwarded once within a window.

A sender that retries a timed-out `send()` resubmits the same message id (with a
fresh nonce): if the first attempt was forwarded, the retry is acknowledged and
audited as ``duplicate`` and goes no further, and the sender is not told (its
message was delivered). The marker is written by the commit that forwards the
message, atomically with it, and holds a digest of the id, never the id (DLP has
not scanned it yet); the commit also refuses to forward twice if two copies race.
Only forwarded (delivered, redacted or parked) messages set it: a retry of a
refused one is checked like a new message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from ..context import MessageContext
from .base import Batch, Decode, look_up

__all__ = ["DedupStage"]


class DedupStage:
    """Drops resubmissions of a message id already forwarded, one round trip per batch."""

    name = "dedup"

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client

    def queue_reads(self, contexts: Sequence[MessageContext], pipe: Pipeline) -> Decode:
        """Queue an existence check of each message's forwarded marker."""
        markers = sorted({ctx.forwarded_marker() for ctx in contexts})
        for marker in markers:
            pipe.exists(marker)

        def decode(found: list[Any]) -> set[str]:
            return {marker for marker, exists in zip(markers, found, strict=True) if exists}

        return decode

    async def prepare(self, batch: Batch[None]) -> set[int]:
        """The contexts (by `id`) whose message id was forwarded, or came earlier in the batch."""
        forwarded: set[str] = await look_up(self, batch)
        duplicates: set[int] = set()
        seen: set[str] = set()
        for ctx in batch.contexts:
            marker = ctx.forwarded_marker()
            if marker in forwarded or marker in seen:
                duplicates.add(id(ctx))
            seen.add(marker)
        return duplicates

    async def check(self, ctx: MessageContext, batch: Batch[set[int]]) -> None:
        """Mark a resubmission of a forwarded message id as a duplicate."""
        if id(ctx) in batch.prepared:
            ctx.drop_duplicate(stage=self.name)
