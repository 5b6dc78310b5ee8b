"""Backpressure: bounded inboxes and a bounded outbox lag, answered with 429 and a retry-after.

A receiver that falls behind, or a sender that submits faster than the gateways
read, must not make Redis grow without bound. Past `max_inbox` deliveries waiting
in the target's inbox, or `max_outbox_lag` entries waiting in the sender's own
outbox, a submission is refused with 429 (`RateLimited`) and a retry-after; the
SDK waits that long and resubmits, so nothing is lost while the queue drains.
Both lengths come from one pipelined round trip per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from mas import keys
from mas.errors import RateLimited

from ..context import MessageContext
from .base import Batch, Decode, look_up

__all__ = ["RETRY_AFTER_S", "BackpressureStage"]

RETRY_AFTER_S = 1.0
"""What a refused sender is told to wait: long enough for a receiver to take a batch."""


class BackpressureStage:
    """Refuses submissions into a full inbox or from an outbox that is too far behind."""

    name = "backpressure"

    def __init__(self, client: aioredis.Redis, *, max_inbox: int, max_outbox_lag: int) -> None:
        self.client = client
        self._max_inbox = max_inbox
        self._max_lag = max_outbox_lag

    def queue_reads(self, contexts: Sequence[MessageContext], pipe: Pipeline) -> Decode:
        """Queue the reads of the length of every inbox and outbox `contexts` touch."""
        streams = sorted(
            {keys.agent_stream(ctx.envelope.target_id) for ctx in contexts if ctx.envelope}
            | {ctx.outbox for ctx in contexts}
        )
        for stream in streams:
            pipe.xlen(stream)

        def decode(lengths: list[Any]) -> dict[str, int]:
            return dict(zip(streams, (int(n) for n in lengths), strict=True))

        return decode

    async def prepare(self, batch: Batch[None]) -> dict[str, int]:
        """Length of every inbox and outbox the batch touches, by stream key.

        A copy: `check` counts the messages it lets through into it.
        """
        return dict(await look_up(self, batch))

    async def check(self, ctx: MessageContext, batch: Batch[dict[str, int]]) -> None:
        """Raise `RateLimited` when the target's inbox is full or the sender's outbox lags.

        A message let through counts towards its target's inbox for the rest of the batch.
        """
        assert ctx.envelope is not None
        target = ctx.envelope.target_id
        inbox = keys.agent_stream(target)
        waiting = batch.prepared.get(inbox, 0)
        if waiting >= self._max_inbox:
            raise RateLimited(
                f"the inbox of {target!r} holds {waiting} undelivered messages (limit "
                f"{self._max_inbox}); retry after {RETRY_AFTER_S:g} s",
                retry_after=RETRY_AFTER_S,
                message_id=ctx.message_id,
            )
        lag = batch.prepared.get(ctx.outbox, 0)
        if lag > self._max_lag:
            raise RateLimited(
                f"the outbox of {ctx.sender_id!r} has {lag} submissions waiting (limit "
                f"{self._max_lag}); retry after {RETRY_AFTER_S:g} s",
                retry_after=RETRY_AFTER_S,
                message_id=ctx.message_id,
            )
        batch.prepared[inbox] = waiting + 1
