"""WAIT for replicas: a submission or a committed batch is on a replica before anyone goes on."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from mas import keys
from mas.outage import is_transient
from mas.redis_connect import connect_redis
from mas.replication import ReplicasBehind, fence_and_wait, write_and_wait
from mas_gateway import GatewaySettings
from mas_gateway.embedded_ha import EmbeddedSentinel


async def test_a_write_is_on_the_replicas_when_the_wait_returns(
    sentinel_setup: EmbeddedSentinel,
) -> None:
    client = connect_redis(sentinel_setup.url)
    try:
        await write_and_wait(client, lambda pipe: pipe.set("k", "v"), replicas=2, timeout_ms=5000)
        await fence_and_wait(client, keys.replica_fence("g-1"), replicas=2, timeout_ms=5000)
    finally:
        await client.aclose()
    for port in sentinel_setup.data_ports[1:]:
        with sentinel_setup.node_admin(port) as replica:
            assert replica.get("k") == b"v"
            assert replica.exists(keys.replica_fence("g-1")) == 1


async def test_too_few_replicas_is_a_transient_error(redis_client: aioredis.Redis) -> None:
    with pytest.raises(ReplicasBehind) as raised:  # the single test server has no replica
        await write_and_wait(
            redis_client, lambda pipe: pipe.set("k", "v"), replicas=1, timeout_ms=50
        )
    assert is_transient(raised.value)
    assert "0 of 1 replica(s)" in str(raised.value)


def test_a_replica_wait_must_end_within_the_socket_timeout(redis_url: str) -> None:
    with pytest.raises(ValueError, match="replica_timeout_ms"):
        GatewaySettings(
            redis_url=redis_url,
            commit_replicas=1,
            replica_timeout_ms=5000,
            redis_socket_timeout_s=2,
            block_ms=100,
        )
