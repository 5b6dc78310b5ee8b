"""StreamConsumer as a general mechanism: several streams, batches, takeover, stopping."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from mas.consumer import Batch, ConsumerSettings, Entry, StreamConsumer

STREAMS = ("test.a", "test.b")
GROUP = "workers"


async def _groups(redis: aioredis.Redis) -> None:
    for stream in STREAMS:
        await redis.xgroup_create(stream, GROUP, id="0", mkstream=True)


def _consumer(
    redis: aioredis.Redis,
    name: str,
    process: object,
    *,
    block_ms: int = 50,
    claim_idle_s: float = 0.3,
) -> StreamConsumer:
    return StreamConsumer(
        redis,
        group=GROUP,
        consumer=name,
        streams=lambda: STREAMS,
        settings=ConsumerSettings(
            batch_size=8, max_inflight=8, block_ms=block_ms, claim_idle_s=claim_idle_s
        ),
        process=process,  # type: ignore[arg-type]
    )


async def test_entries_of_every_stream_are_processed_in_batches_and_finished(
    redis_client: aioredis.Redis,
) -> None:
    await _groups(redis_client)
    seen: list[tuple[str, bytes]] = []
    batches: list[int] = []

    async def process(batch: Batch) -> None:
        batches.append(len(batch))
        for entry in batch.entries:
            seen.append((entry.stream, entry.fields["n"]))
            await redis_client.xack(entry.stream, GROUP, entry.entry_id)
            batch.finished(entry)

    for n in range(5):
        for stream in STREAMS:
            await redis_client.xadd(stream, {"n": str(n)})
    consumer = _consumer(redis_client, "c1", process)
    await consumer.start()
    try:
        await consumer.wait_idle(10)
    finally:
        await consumer.stop(5)
    assert sorted(seen) == sorted((s, str(n).encode()) for n in range(5) for s in STREAMS)
    assert sum(batches) == 10
    assert consumer.inflight == 0


async def test_entries_a_dead_consumer_left_pending_are_taken_over_with_their_count(
    redis_client: aioredis.Redis,
) -> None:
    await _groups(redis_client)
    await redis_client.xadd(STREAMS[1], {"n": "1"})
    await redis_client.xreadgroup(GROUP, "dead", {STREAMS[1]: ">"})  # read, never acked
    taken: list[Entry] = []
    done = asyncio.Event()

    async def process(batch: Batch) -> None:
        for entry in batch.entries:
            taken.append(entry)
            await redis_client.xack(entry.stream, GROUP, entry.entry_id)
        done.set()

    consumer = _consumer(redis_client, "c2", process)
    await consumer.start()
    try:
        async with asyncio.timeout(10):
            await done.wait()
    finally:
        await consumer.stop(5)
    assert [(e.stream, e.fields["n"], e.deliveries) for e in taken] == [(STREAMS[1], b"1", 2)]


async def test_stop_ends_a_blocked_read_without_waiting_for_its_block(
    redis_client: aioredis.Redis,
) -> None:
    """A read blocked for a minute ends at stop (no CLIENT UNBLOCK: agents may not run it)."""
    await _groups(redis_client)

    async def process(batch: Batch) -> None:
        raise AssertionError("nothing was written")

    consumer = _consumer(redis_client, "c3", process, block_ms=60_000, claim_idle_s=60.0)
    await consumer.start()
    await asyncio.sleep(0.2)  # let the read block (a stop before that is the easy case)
    tasks = consumer.tasks
    async with asyncio.timeout(20):  # far below the 60 s block: the read did not run out
        await consumer.stop(1)
    assert tasks and all(task.done() for task in tasks)
    # The group forgot the consumer: it held nothing.
    for stream in STREAMS:
        names = [c["name"] for c in await redis_client.xinfo_consumers(stream, GROUP)]
        assert b"c3" not in names and "c3" not in names


async def test_an_entry_stays_in_flight_until_finished_and_its_claim_is_kept(
    redis_client: aioredis.Redis,
) -> None:
    await _groups(redis_client)
    release = asyncio.Event()
    started = asyncio.Event()

    async def process(batch: Batch) -> None:
        started.set()
        await release.wait()
        for entry in batch.entries:
            await redis_client.xack(entry.stream, GROUP, entry.entry_id)

    await redis_client.xadd(STREAMS[0], {"n": "1"})
    holder = _consumer(redis_client, "holder", process, claim_idle_s=0.3)
    await holder.start()
    rival_got: list[Entry] = []

    async def rival_process(batch: Batch) -> None:
        rival_got.extend(batch.entries)

    rival = _consumer(redis_client, "rival", rival_process, claim_idle_s=0.3)
    try:
        async with asyncio.timeout(10):
            await started.wait()
        assert holder.inflight == 1
        await rival.start()
        for _ in range(3):  # several claim-idle periods pass while the entry is held
            assert await rival.reclaim() == 0
            await asyncio.sleep(0.3)
        assert rival_got == []
    finally:
        release.set()
        await rival.stop(5)
        await holder.stop(5)
    assert holder.inflight == 0


async def test_one_batch_at_a_time_never_overlaps_batches(redis_client: aioredis.Redis) -> None:
    await _groups(redis_client)
    running = 0
    overlap = 0
    seen = 0
    done = asyncio.Event()

    async def process(batch: Batch) -> None:
        nonlocal running, overlap, seen
        running += 1
        overlap = max(overlap, running)
        await asyncio.sleep(0.01)  # give a second read the chance to start a batch
        for entry in batch.entries:
            await redis_client.xack(entry.stream, GROUP, entry.entry_id)
            batch.finished(entry)  # slots free early: still no second batch meanwhile
        seen += len(batch)
        running -= 1
        if seen == 20:
            done.set()

    consumer = StreamConsumer(
        redis_client,
        group=GROUP,
        consumer="serial",
        streams=lambda: STREAMS,
        settings=ConsumerSettings(
            batch_size=4,
            max_inflight=4,
            block_ms=50,
            claim_idle_s=30.0,
            keep_claims=False,
            one_batch_at_a_time=True,
        ),
        process=process,
    )
    await consumer.start()
    try:
        for n in range(10):
            for stream in STREAMS:
                await redis_client.xadd(stream, {"n": str(n)})
        async with asyncio.timeout(10):
            await done.wait()
    finally:
        await consumer.stop(5)
    assert overlap == 1


async def test_a_lost_group_is_reported_and_pending_entries_deleted_meanwhile_are_acked(
    redis_client: aioredis.Redis,
) -> None:
    await _groups(redis_client)
    gone = await redis_client.xadd(STREAMS[0], {"n": "1"})
    await redis_client.xreadgroup(GROUP, "dead", {STREAMS[0]: ">"})
    await redis_client.xdel(STREAMS[0], gone)  # pending, but nothing left to process
    restored: list[str] = []
    told = asyncio.Event()

    async def missing(stream: str) -> None:
        restored.append(stream)
        await redis_client.xgroup_create(stream, GROUP, id="0", mkstream=True)
        told.set()

    async def process(batch: Batch) -> None:
        raise AssertionError("a deleted entry is never processed")

    consumer = StreamConsumer(
        redis_client,
        group=GROUP,
        consumer="c4",
        streams=lambda: STREAMS,
        settings=ConsumerSettings(batch_size=8, max_inflight=8, block_ms=50, claim_idle_s=0.1),
        process=process,
        missing_group=missing,
    )
    await asyncio.sleep(0.15)  # the dead consumer's entry is idle past claim_idle
    assert await consumer.reclaim() == 0
    assert int((await redis_client.xpending(STREAMS[0], GROUP))["pending"]) == 0
    await redis_client.xgroup_destroy(STREAMS[1], GROUP)
    await consumer.start()
    try:
        async with asyncio.timeout(10):
            await told.wait()
    finally:
        await consumer.stop(5)
    assert restored == [STREAMS[1]]
