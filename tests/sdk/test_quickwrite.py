"""Agent connections write without redis-py's timeout task only when a write cannot block."""

from __future__ import annotations

import contextlib

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mas import Agent
from mas.quickwrite import QuickWriteConnection, quick_write_options
from mas.redis_connect import connect_redis

from .conftest import FAST


def _client(url: str, timeout: float) -> aioredis.Redis:
    return connect_redis(url, **quick_write_options(url), socket_timeout=timeout)


def test_only_plain_tcp_urls_get_the_quick_writes() -> None:
    assert quick_write_options("redis://localhost:6379/0") == {
        "connection_class": QuickWriteConnection
    }
    for url in ("rediss://h:6380", "unix:///tmp/r.sock", "redis+sentinel://h:26379/mymaster"):
        assert quick_write_options(url) == {}


async def test_small_and_oversized_writes_both_arrive_and_the_timeout_stays(
    redis_url: str,
) -> None:
    client = _client(redis_url, 5.0)
    try:
        await client.set("small", "v")
        big = b"x" * (4 * 1024 * 1024)  # above any write buffer's high-water mark
        pipe = client.pipeline(transaction=False)
        pipe.set("big", big)
        pipe.get("big")
        _, echoed = await pipe.execute()
        assert echoed == big
        assert await client.get("small") == b"v"
        connection = client.connection_pool._available_connections[0]  # pyright: ignore[reportPrivateUsage]
        assert isinstance(connection, QuickWriteConnection)
        assert connection.socket_timeout == 5.0
    finally:
        await client.aclose()


async def test_reads_still_time_out(redis_url: str) -> None:
    client = _client(redis_url, 0.2)
    try:
        with pytest.raises(RedisTimeoutError):
            await client.blpop(["never-filled"], timeout=5)  # type: ignore[misc]
    finally:
        await client.aclose()


async def test_a_killed_connection_is_replaced(
    redis_url: str, redis_client: aioredis.Redis
) -> None:
    client = _client(redis_url, 5.0)
    try:
        own_id = await client.client_id()
        await redis_client.client_kill_filter(_id=str(own_id))
        with contextlib.suppress(RedisConnectionError):
            await client.ping()  # type: ignore[misc]  # may be the one to notice the loss
        assert await client.ping()  # type: ignore[misc]
        assert await client.client_id() != own_id
    finally:
        await client.aclose()


async def test_an_agent_on_a_redis_url_uses_quick_writes(sdk_env: str) -> None:
    async with Agent("quick", **FAST) as agent:
        session = agent._require()  # pyright: ignore[reportPrivateUsage]
        assert session.redis.connection_pool.connection_class is QuickWriteConnection
