"""Reading while there is no stream to read (no agent provisioned) waits like a blocking read."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from mas.consumer import Batch, ConsumerSettings, StreamConsumer


async def test_a_consumer_with_no_streams_waits_and_lets_other_tasks_run(
    redis_client: aioredis.Redis,
) -> None:
    others_ran = asyncio.Event()
    seen: list[bool] = []
    second_read = asyncio.Event()

    async def before_read() -> None:
        if not seen:
            asyncio.get_running_loop().call_soon(others_ran.set)
        seen.append(others_ran.is_set())
        if len(seen) == 2:
            second_read.set()

    async def process(batch: Batch) -> None:
        raise AssertionError("there is nothing to read")

    consumer = StreamConsumer(
        redis_client,
        group="gateways",
        consumer="gw-test",
        streams=list,  # no outbox at all
        settings=ConsumerSettings(batch_size=10, max_inflight=10, block_ms=20, claim_idle_s=60),
        process=process,
        before_read=before_read,
        label="no outboxes",
    )
    await consumer.start()
    try:
        await asyncio.wait_for(second_read.wait(), 30)
    finally:
        await consumer.stop(5)
    # A read that returned without suspending would keep the consume loop from ever
    # yielding: the gateway process would spin and starve its other tasks.
    assert seen[:2] == [False, True]
