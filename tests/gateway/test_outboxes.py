"""Reading outboxes while no agent is provisioned waits like a blocking read would."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from mas_gateway import outboxes
from mas_gateway.outboxes import Outboxes


async def test_a_read_with_no_outboxes_waits_and_lets_other_tasks_run(
    redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No refresh of the agent list during the test: the second read talks to no one.
    monkeypatch.setattr(outboxes, "REFRESH_S", 3600.0)
    reader = Outboxes(redis_client, "gw-test", batch_size=10, claim_idle_ms=60_000)
    assert await reader.read(block_ms=20) == []
    others_ran = asyncio.Event()
    asyncio.get_running_loop().call_soon(others_ran.set)
    assert await reader.read(block_ms=20) == []
    # A read that returned without suspending would keep the consume loop from ever
    # yielding: the gateway process would spin and starve its other tasks.
    assert others_ran.is_set()
