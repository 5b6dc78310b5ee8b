"""The agent SDK and the MAS service on a 3-master Redis Cluster (everything without a gateway).

The cluster is shared by the session and never flushed: every test uses agent ids
of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from pydantic import BaseModel

from mas import Agent, MASService, keys
from mas.credentials import Credentials
from mas.provisioning import provision_agent, revoke_agent
from mas.redis_connect import connect_redis, is_cluster
from mas_gateway.embedded_ha import EmbeddedCluster

from ..polling import wait_until
from ..principals import service_url

FAST = {
    "heartbeat_interval": 0.2,
    "heartbeat_ttl": 1.0,
    "block_ms": 50,
    "claim_idle": 1.0,
    "stop_timeout": 5.0,
}


class Counter(BaseModel):
    count: int = 0
    tags: list[str] = []


def _ids(prefix: str, n: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"{prefix}_{run}_{i}" for i in range(n)]


@pytest.fixture
async def admin(redis_cluster: EmbeddedCluster) -> AsyncIterator[aioredis.Redis]:
    client = connect_redis(redis_cluster.url)
    assert is_cluster(client)
    await client.initialize()  # type: ignore[attr-defined]  # the slot map, for get_node_from_key
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def cluster_env(
    monkeypatch: pytest.MonkeyPatch, redis_cluster: EmbeddedCluster, tmp_path: Path
) -> str:
    """A developer machine pointed at the cluster: operator URL, auto-provisioning."""
    monkeypatch.setenv("MAS_REDIS_URL", redis_cluster.url)
    monkeypatch.setenv("MAS_AUTO_PROVISION", "1")
    monkeypatch.setenv("MAS_CREDENTIALS_DIR", str(tmp_path / "credentials"))
    return redis_cluster.url


def _nodes(admin: aioredis.Redis, agent_ids: list[str]) -> set[int]:
    ports: set[int] = set()
    for agent_id in agent_ids:
        node = admin.get_node_from_key(keys.agent_record(agent_id))  # type: ignore[attr-defined]
        ports.add(node.port)
    return ports


async def test_provisioned_agent_starts_registers_and_stops_on_a_cluster(
    redis_cluster: EmbeddedCluster, admin: aioredis.Redis, tmp_path: Path
) -> None:
    (agent_id,) = _ids("prov", 1)
    issued = await provision_agent(admin, agent_id, ["tester"])
    path = tmp_path / f"{agent_id}.json"
    Credentials.from_issued(issued, {}).save(path)
    agent = Agent(
        agent_id, capabilities=["x"], credentials=path, redis_url=redis_cluster.url, **FAST
    )
    await agent.start()
    try:
        record = await admin.hgetall(keys.agent_record(agent_id))
        assert record[b"status"] == b"ACTIVE"
        assert await admin.pttl(keys.agent_heartbeat(agent_id)) > 0
        assert await admin.sismember(keys.ALL_AGENTS, agent_id)  # type: ignore[misc]
    finally:
        await agent.stop()
    assert await admin.hget(keys.agent_record(agent_id), "status") == b"INACTIVE"
    assert not await admin.exists(keys.agent_heartbeat(agent_id))
    await revoke_agent(admin, agent_id)


async def test_discovery_spans_agents_on_every_node(
    cluster_env: str, admin: aioredis.Redis
) -> None:
    ids: list[str] = []
    while len(_nodes(admin, ids)) < 3:  # agents whose keys live on all three masters
        ids = _ids("disc", 6)
    agents = [
        Agent(a, capabilities=["nlp" if i % 2 else "math"], **FAST) for i, a in enumerate(ids)
    ]
    for agent in agents:
        await agent.start()
    try:
        found = {r["id"] for r in await agents[0].discover(capabilities=["nlp"])}
        assert set(ids[1::2]) <= found
        assert not set(ids[0::2]) & found
        everyone = {r["id"] for r in await agents[0].discover()}
        assert set(ids) <= everyone
        await agents[1].stop()
        assert ids[1] not in {r["id"] for r in await agents[0].discover(capabilities=["nlp"])}
    finally:
        for agent in agents:
            await agent.stop()


async def test_heartbeat_restores_a_deleted_heartbeat_key_and_instances_are_tracked(
    cluster_env: str, admin: aioredis.Redis
) -> None:
    (agent_id,) = _ids("beat", 1)
    first = Agent(agent_id, **FAST)
    second = Agent(agent_id, **FAST)
    await first.start()
    await second.start()
    try:
        assert await admin.scard(keys.agent_instances(agent_id)) == 2  # type: ignore[misc]
        await admin.delete(keys.agent_heartbeat(agent_id))

        async def beating() -> bool:
            return bool(await admin.exists(keys.agent_heartbeat(agent_id)))

        await wait_until(beating, 10, "the heartbeat key to be written again")
        await second.stop()
        assert await admin.hget(keys.agent_record(agent_id), "status") == b"ACTIVE"
    finally:
        await second.stop()
        await first.stop()
    assert await admin.hget(keys.agent_record(agent_id), "status") == b"INACTIVE"
    assert await admin.scard(keys.agent_instances(agent_id)) == 0  # type: ignore[misc]


async def test_typed_state_round_trips_on_a_cluster(
    cluster_env: str, admin: aioredis.Redis
) -> None:
    (agent_id,) = _ids("state", 1)
    async with Agent[Counter](agent_id, state_model=Counter, **FAST) as agent:
        await agent.update_state({"count": 3, "tags": ["a", "b"]})
    async with Agent[Counter](agent_id, state_model=Counter, **FAST) as again:
        assert again.state == Counter(count=3, tags=["a", "b"])
        await again.reset_state()
    assert not await admin.exists(keys.agent_state(agent_id))


async def test_service_marks_a_lapsed_agent_inactive_on_a_cluster(
    cluster_env: str, admin: aioredis.Redis
) -> None:
    (agent_id,) = _ids("lapse", 1)
    agent = Agent(agent_id, capabilities=["x"], **FAST)
    await agent.start()
    try:
        session = agent._require()
        session.watchdog.close()  # the process hangs: no more heartbeats
        await session.heartbeat.stop()
        async with MASService(service_url(cluster_env), check_interval=0.05, grace_period=0.0):

            async def inactive() -> bool:
                return await admin.hget(keys.agent_record(agent_id), "status") == b"INACTIVE"

            await wait_until(inactive, 15, "the service to mark the lapsed agent INACTIVE")
        assert agent_id not in {r["id"] for r in await agent.discover()}
    finally:
        await agent.stop()
