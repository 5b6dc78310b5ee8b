"""The outbox consumer (the SDK's `StreamConsumer` over every outbox), and waiting for idle."""

from __future__ import annotations

import asyncio
import logging

from mas import keys
from mas.consumer import Batch, ConsumerSettings, StreamConsumer

from ..ops.health import Progress
from ..outboxes import Outboxes, Submission, owner_of
from ..processor import BatchProcessor
from .core import Core

__all__ = ["outbox_consumer", "until_idle"]

log = logging.getLogger(__name__)


def outbox_consumer(
    core: Core, outboxes: Outboxes, processor: BatchProcessor, progress: Progress
) -> StreamConsumer:
    """Read (and take over) outbox entries and hand them to `processor` in ``batch_size`` runs.

    The batch processor renews the claims of the batch it decides (and learns from
    them which entries their owner withdrew), so the consumer does not.
    """
    settings = core.settings
    size = settings.batch_size

    async def process(batch: Batch) -> None:
        taken = sum(1 for entry in batch.entries if entry.deliveries > 1)
        if taken:
            log.info("took over %d entries left pending by another gateway", taken)
        submissions = [Submission(owner_of(e.stream), e.entry_id, e.fields) for e in batch.entries]
        for start in range(0, len(submissions), size):
            await processor.process(submissions[start : start + size])

    return StreamConsumer(
        core.client,
        group=keys.GATEWAY_GROUP,
        consumer=core.consumer,
        streams=outboxes.streams,
        settings=ConsumerSettings(
            batch_size=size,
            max_inflight=size,
            block_ms=settings.block_ms,
            claim_idle_s=settings.claim_idle_ms / 1000.0,
            keep_claims=False,
            one_batch_at_a_time=True,
        ),
        process=process,
        missing_group=outboxes.restore_group,
        before_read=outboxes.follow,
        on_progress=progress.tick,
        label="outboxes",
    )


async def until_idle(outboxes: Outboxes, processor: BatchProcessor) -> None:
    """Return once no outbox has unread or pending entries and no batch is being decided.

    Polls Redis (other processes may be writing); bound it with `asyncio.timeout`.
    """
    while True:
        # The lock is looked at after the outboxes: a batch read and committed while
        # they were being read may still be counting its outcomes.
        if await outboxes.idle() and not processor.lock.locked():
            return
        await asyncio.sleep(0.01)
