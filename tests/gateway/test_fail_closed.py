"""The gateway fails closed: an unexpected error rejects and dead-letters, it never forwards,
loses the message or stops consuming."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis

from mas import keys
from mas_gateway import GatewayService
from mas_gateway.context import MessageContext
from mas_gateway.stages.base import Batch

from .helpers import ProbeAgent, deliveries, gateway_settings, idle, notices


class Exploding:
    """A stage with a bug."""

    name = "exploding"

    async def prepare(self, batch: Batch[None]) -> None:
        return None

    async def check(self, ctx: MessageContext, batch: Batch[None]) -> None:
        if ctx.data.get("explode"):
            raise ZeroDivisionError("bug in a stage")


class Unserialisable:
    """A stage that leaves a payload the delivery cannot encode."""

    name = "unserialisable"

    async def prepare(self, batch: Batch[None]) -> None:
        return None

    async def check(self, ctx: MessageContext, batch: Batch[None]) -> None:
        if ctx.data.get("garble"):
            ctx.data = {"oops": {1, 2, 3}}
            ctx.modified = True


@pytest.mark.parametrize(
    ("stage", "flag"), [(Exploding(), "explode"), (Unserialisable(), "garble")]
)
async def test_unexpected_errors_dead_letter_the_message_and_the_gateway_goes_on(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path, stage: object, flag: str
) -> None:
    patient = await ProbeAgent.provision(redis_client, "patient")
    await ProbeAgent.provision(redis_client, "doctor")
    async with GatewayService(gateway_settings(redis_url, tmp_path)) as gateway:
        gateway.pipeline.append(stage)  # type: ignore[arg-type]
        mid = await patient.send("doctor", "consultation.request", {flag: True})
        await patient.send("doctor", "consultation.request", {"fine": True})
        await idle(gateway)
        delivered = await deliveries(redis_client, gateway, "doctor")
        [notice] = await notices(redis_client, gateway, "patient")
    assert [d.envelope.data for d in delivered] == [{"fine": True}]
    assert notice["code"] == 500 and notice["message_id"] == mid
    [(_, letter)] = await redis_client.xrange(keys.DLQ)
    assert b"token" not in letter, "a dead letter never keeps the bearer token"
    assert b"envelope" not in letter and flag.encode() not in b"".join(letter.values())
    assert letter[b"dlq_message_id"] == mid.encode() and letter[b"dlq_sender"] == b"patient"
    assert letter[b"dlq_reason"].startswith(b"internal gateway error")
    assert gateway.counts["dead_lettered"] == 1 and gateway.counts["delivered"] == 1
