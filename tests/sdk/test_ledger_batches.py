"""The ledger's batched commands, run as the agent's own Redis user (ACLs on)."""

from __future__ import annotations

import redis.asyncio as aioredis

from mas import Agent, keys
from mas.connection import connect_agent
from mas.ledger import DeliveryLedger
from mas.options import AgentOptions
from mas.redis_text import as_text

from .conftest import FAST


async def test_a_batch_begins_with_one_mget_and_completes_in_one_transaction(
    sdk_env: str, redis_client: aioredis.Redis
) -> None:
    async with Agent("ledgered", **FAST):
        pass  # provisioned (its ACL user and inbox group); nobody consumes the inbox now
    own, _ = await connect_agent("ledgered", AgentOptions(), sdk_env)
    try:
        ledger = DeliveryLedger(own, "ledgered", dedup_ttl=60.0, lease=30.0)
        stream = keys.agent_stream("ledgered")
        entry_ids = [as_text(await redis_client.xadd(stream, {"n": str(n)})) for n in range(3)]
        message_ids = [f"peer:m{n}" for n in range(3)]
        await redis_client.set(keys.agent_done("ledgered", "peer:old"), "1")
        begun = await ledger.begin_many([*message_ids, "peer:old"], "me")
        assert begun == [(False, True), (False, True), (False, True), (True, True)]
        read = await own.xreadgroup(keys.AGENTS_GROUP, "c", {stream: ">"}, count=10)
        assert read
        await ledger.record_failure(entry_ids[1], message_ids[1], "ValueError: once")
        errors = await ledger._complete_all(list(zip(entry_ids, message_ids, strict=True)))  # pyright: ignore[reportPrivateUsage]
        assert errors == [None, None, None]

        for message_id in message_ids:
            ttl = await redis_client.pttl(keys.agent_done("ledgered", message_id))
            assert 0 < ttl <= 60_000
            assert not await redis_client.exists(keys.agent_handling("ledgered", message_id))
        assert await redis_client.xlen(stream) == 0
        pending = await redis_client.xpending(stream, keys.AGENTS_GROUP)
        assert pending["pending"] == 0
        assert not await redis_client.hgetall(keys.agent_errors("ledgered"))  # type: ignore[misc]
        health = await redis_client.hgetall(keys.agent_health("ledgered"))  # type: ignore[misc]
        assert int(health[b"ok"]) == 3 and int(health[b"failed"]) == 1
        again = await ledger.begin_many(message_ids, "me")
        assert [done for done, _ in again] == [True, True, True]
    finally:
        await own.aclose()
