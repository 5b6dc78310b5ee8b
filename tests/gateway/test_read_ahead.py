"""Reads sent ahead: the lookup stages of a batch share one round trip, and see what they need."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline as RedisPipeline

from mas.envelope import Envelope
from mas_gateway.context import MessageContext
from mas_gateway.pipeline import Pipeline
from mas_gateway.stages.base import Batch, Decode, look_up

from ..stages import repo_policy


class Flagged:
    """A lookup stage: reads one key per message, refuses the messages whose key says "bad"."""

    def __init__(self, name: str, client: aioredis.Redis, log: list[str]) -> None:
        self.name = name
        self.client = client
        self.log = log
        self.seen: list[tuple[list[str], Any]] = []

    def queue_reads(self, contexts: Sequence[MessageContext], pipe: RedisPipeline) -> Decode:
        self.log.append(f"{self.name} queued {len(contexts)}")
        ids = [ctx.entry_id for ctx in contexts]
        for entry_id in ids:
            pipe.get(f"flag:{self.name}:{entry_id}")

        def decode(replies: list[Any]) -> dict[str, bytes | None]:
            return dict(zip(ids, replies, strict=True))

        return decode

    async def prepare(self, batch: Batch[None]) -> dict[str, bytes | None]:
        self.log.append(f"{self.name} prepared")
        self.seen.append(([ctx.entry_id for ctx in batch.contexts], batch.fetched))
        return await look_up(self, batch)

    async def check(self, ctx: MessageContext, batch: Batch[dict[str, bytes | None]]) -> None:
        if batch.prepared[ctx.entry_id] == b"bad":
            ctx.park(f"flagged by {self.name}", stage=self.name)


def _contexts(count: int) -> list[MessageContext]:
    out = []
    for i in range(count):
        envelope = Envelope(sender_id="patient", target_id="doctor", message_type="t")
        out.append(
            MessageContext(
                entry_id=f"{i}-0", fields={}, origin="patient", envelope=envelope, data={}
            )
        )
    return out


async def test_every_lookup_stage_reads_in_the_first_ones_round_trip(
    redis_client: aioredis.Redis,
) -> None:
    await redis_client.set("flag:first:1-0", "bad")
    await redis_client.set("flag:second:2-0", "bad")
    log: list[str] = []
    first, second = Flagged("first", redis_client, log), Flagged("second", redis_client, log)
    contexts = _contexts(3)
    await Pipeline([first, second]).run(contexts, repo_policy())

    # Both stages' reads were queued before either prepared: one round trip for both.
    assert log == ["first queued 3", "second queued 3", "first prepared", "second prepared"]
    [(first_ids, _)] = first.seen
    [(second_ids, second_fetched)] = second.seen
    assert first_ids == ["0-0", "1-0", "2-0"]
    assert second_ids == ["0-0", "2-0"]  # the message the first stage parked went no further
    assert second_fetched == {"0-0": None, "1-0": None, "2-0": b"bad"}  # covers its subset
    assert [ctx.verdict is not None for ctx in contexts] == [False, True, True]


async def test_a_lookup_stage_run_on_its_own_reads_for_itself(
    redis_client: aioredis.Redis,
) -> None:
    await redis_client.set("flag:alone:0-0", "bad")
    stage = Flagged("alone", redis_client, [])
    contexts = _contexts(2)
    prepared = await stage.prepare(Batch(contexts, repo_policy(), None))
    assert prepared == {"0-0": b"bad", "1-0": None}


class SlowScreen:
    """A screening stage (as DLP is) during which a flag changes: set while it 'scans'."""

    name = "screen"
    screened_fields: tuple[str, ...] = ()

    def __init__(self, client: aioredis.Redis, log: list[str]) -> None:
        self.client = client
        self.log = log

    async def prepare(self, batch: Batch[None]) -> None:
        self.log.append("screen prepared")
        await self.client.set("flag:after:1-0", "bad")  # e.g. a circuit opens meanwhile

    async def check(self, ctx: MessageContext, batch: Batch[None]) -> None:
        return None

    async def screen(self, batch: Batch[None]) -> None:
        return None


async def test_nothing_is_read_ahead_past_a_screening_stage(
    redis_client: aioredis.Redis,
) -> None:
    log: list[str] = []
    before, after = Flagged("before", redis_client, log), Flagged("after", redis_client, log)
    contexts = _contexts(2)
    await Pipeline([before, SlowScreen(redis_client, log), after]).run(contexts, repo_policy())

    assert log == [
        "before queued 2",
        "before prepared",
        "screen prepared",
        "after queued 2",  # read once reached, not before the screening stage
        "after prepared",
    ]
    assert [ctx.verdict is not None for ctx in contexts] == [False, True]  # saw the new flag
