"""The gateway's Redis connection: opened and checked before any other part is built."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mas.errors import ConfigError
from mas.redis_connect import connect_redis
from mas.urls import redact_url

from ..redis_packing import use_hiredis_packing
from ..settings import GatewaySettings

__all__ = ["open_redis"]


async def open_redis(settings: GatewaySettings) -> aioredis.Redis:
    """A client for ``redis_url`` that answered a PING.

    Raises:
        ConfigError: Redis cannot be reached (the URL is named without its password).
    """
    client = connect_redis(
        settings.redis_url,
        socket_timeout=settings.redis_socket_timeout_s,
        socket_connect_timeout=settings.redis_socket_timeout_s,
    )
    use_hiredis_packing(client)
    try:
        await client.ping()  # type: ignore[misc]
    except RedisError as exc:
        await client.aclose()
        raise ConfigError(f"cannot reach Redis at {redact_url(settings.redis_url)}") from exc
    return client
