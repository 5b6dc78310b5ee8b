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

import hashlib

import redis.asyncio as aioredis

from mas import keys

from ..context import MessageContext
from .base import Batch

__all__ = ["DedupStage", "forwarded_marker"]


def forwarded_marker(ctx: MessageContext) -> str:
    """The key that says `ctx`'s sender already had this message id forwarded."""
    assert ctx.envelope is not None, "de-duplication runs after parsing"
    digest = hashlib.sha256(ctx.envelope.message_id.encode("utf-8")).hexdigest()[:32]
    return keys.forwarded(ctx.envelope.sender_id, digest)


class DedupStage:
    """Drops resubmissions of a message id already forwarded, one round trip per batch."""

    name = "dedup"

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client

    async def prepare(self, batch: Batch[None]) -> set[int]:
        """The contexts (by `id`) whose message id was forwarded, or came earlier in the batch."""
        markers = [forwarded_marker(ctx) for ctx in batch.contexts]
        async with self._client.pipeline(transaction=False) as pipe:
            for marker in markers:
                pipe.exists(marker)
            found = await pipe.execute()
        duplicates: set[int] = set()
        seen: set[str] = set()
        for ctx, marker, exists in zip(batch.contexts, markers, found, strict=True):
            if exists or marker in seen:
                duplicates.add(id(ctx))
            seen.add(marker)
        return duplicates

    async def check(self, ctx: MessageContext, batch: Batch[set[int]]) -> None:
        """Mark a resubmission of a forwarded message id as a duplicate."""
        if id(ctx) in batch.prepared:
            ctx.drop_duplicate(stage=self.name)
