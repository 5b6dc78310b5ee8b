"""Concurrent send() calls share pipelines: each is still its own signed submission."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from mas import Agent, crypto, keys
from mas.envelope import parse_envelope

from .conftest import FAST, DeliverySigner


async def test_concurrent_sends_each_land_once_signed_with_their_own_nonce(
    sdk_env: str, gateway: DeliverySigner, redis_client: aioredis.Redis
) -> None:
    async with Agent("burst", **FAST) as agent:
        ids = await asyncio.gather(
            *(agent.send("sink", "ping", {"i": i}) for i in range(60)),
            agent.send("sink", "ping", {"i": 60}, message_id="chosen-id"),
        )
        public_key = agent._require().transport._credentials.private_key.public_key()
    entries: list[tuple[bytes, dict[bytes, bytes]]] = await redis_client.xrange(
        keys.agent_outbox("burst")
    )  # pyright: ignore[reportAssignmentType]
    envelopes = []
    for _, fields in entries:
        crypto.verify(public_key, fields[b"envelope"], fields[b"signature"])  # raises if forged
        envelopes.append(parse_envelope(fields[b"envelope"]))
    assert sorted(e.message_id for e in envelopes) == sorted(ids)
    assert len({e.nonce for e in envelopes}) == len(envelopes) == 61
    assert sorted(e.data["i"] for e in envelopes) == list(range(61))
    assert "chosen-id" in ids


async def test_a_refused_submission_in_a_shared_pipeline_fails_only_its_own_send(
    sdk_env: str, gateway: DeliverySigner, redis_client: aioredis.Redis
) -> None:
    """The outbox turned into another type: every send fails alone, none hangs."""
    async with Agent("wrongtype", **FAST) as agent:
        await redis_client.delete(keys.agent_outbox("wrongtype"))
        await redis_client.set(keys.agent_outbox("wrongtype"), "not a stream")
        results = await asyncio.wait_for(
            asyncio.gather(
                *(agent.send("sink", "ping", {"i": i}) for i in range(10)),
                return_exceptions=True,
            ),
            timeout=30,
        )
        await redis_client.delete(keys.agent_outbox("wrongtype"))
        assert await agent.send("sink", "ping", {"i": 99})  # the next send goes through
    assert len(results) == 10
    assert all(isinstance(r, Exception) and str(r).startswith("WRONGTYPE") for r in results)
    assert not any("token" in str(r) or "envelope" in str(r) for r in results)  # no arguments
