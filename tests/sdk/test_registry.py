"""Registry and discovery: records, capability indexes, liveness, instances, system events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import redis.asyncio as aioredis

from mas import Agent, AgentMessage, CredentialsError, MASService, keys
from mas.dispatch import ledger_id
from mas.provisioning import revoke_agent

from ..principals import service_url
from .conftest import FAST, DeliverySigner, eventually


class MetaAgent(Agent):
    def get_metadata(self) -> dict[str, Any]:
        return {"version": "1.0.0", "region": "us-east-1"}


async def test_profile_and_liveness(sdk_env: str, redis_client: aioredis.Redis) -> None:
    async with MetaAgent("meta", capabilities=["nlp", "text"], **FAST):
        record = await redis_client.hgetall(keys.agent_record("meta"))
        assert record[b"status"] == b"ACTIVE"
        assert json.loads(record[b"capabilities"]) == ["nlp", "text"]
        assert json.loads(record[b"metadata"]) == {"version": "1.0.0", "region": "us-east-1"}
        assert float(record[b"registered_at"]) > 0
        assert not {b"public_key", b"token_hash", b"roles", b"provisioned_by"} & set(record)
        assert await redis_client.sismember(keys.ALL_AGENTS, "meta")
        assert await redis_client.pttl(keys.agent_heartbeat("meta")) > 0


async def test_discovery_any_all_and_only_live(sdk_env: str) -> None:
    a = Agent("a", capabilities=["nlp", "text"], **FAST)
    b = Agent("b", capabilities=["nlp", "vision"], **FAST)
    c = Agent("c", capabilities=["math"], **FAST)
    for agent in (a, b, c):
        await agent.start()
    try:
        ids = lambda found: sorted(r["id"] for r in found)  # noqa: E731
        assert ids(await a.discover(capabilities=["nlp"])) == ["a", "b"]
        assert ids(await a.discover(capabilities=["text", "math"])) == ["a", "c"]
        assert ids(await a.discover(capabilities=["nlp", "text"], match="all")) == ["a"]
        assert ids(await a.discover(capabilities=["nlp", "math"], match="all")) == []
        assert ids(await a.discover()) == ["a", "b", "c"]
        record = (await a.discover(capabilities=["vision"]))[0]
        assert record["capabilities"] == ["nlp", "vision"]
        assert record["status"] == "ACTIVE"
        assert {"id", "capabilities", "metadata", "status", "registered_at"} <= set(record)
        assert not {"token_hash", "public_key", "key_id"} & set(record)
        await b.stop()
        assert ids(await a.discover(capabilities=["nlp"])) == ["a"]
        with pytest.raises(ValueError, match="any"):
            await a.discover(capabilities=["nlp"], match="some")  # type: ignore[arg-type]
    finally:
        for agent in (a, b, c):
            await agent.stop()


async def test_discovery_skips_agent_whose_heartbeat_expired(
    sdk_env: str, redis_client: aioredis.Redis
) -> None:
    async with Agent("seer", **FAST) as seer, Agent("ghost", capabilities=["x"], **FAST):
        assert [r["id"] for r in await seer.discover(capabilities=["x"])] == ["ghost"]
        await redis_client.delete(keys.agent_heartbeat("ghost"))
        assert await seer.discover(capabilities=["x"]) == []


async def test_stopped_agent_keeps_record_and_stream(
    sdk_env: str, redis_client: aioredis.Redis
) -> None:
    async with Agent("sleeper", capabilities=["x"], **FAST):
        pass
    record = await redis_client.hgetall(keys.agent_record("sleeper"))
    assert record[b"status"] == b"INACTIVE"
    assert not await redis_client.exists(keys.agent_heartbeat("sleeper"))
    assert await redis_client.exists(keys.agent_stream("sleeper"))
    assert await redis_client.sismember(keys.ALL_AGENTS, "sleeper")


async def test_capabilities_change_is_discovered(sdk_env: str) -> None:
    async with Agent("shifty", capabilities=["old", "kept"], **FAST):
        pass
    async with Agent("shifty", capabilities=["kept", "new"], **FAST) as shifty:
        assert await shifty.discover(capabilities=["old"]) == []
        assert [r["id"] for r in await shifty.discover(capabilities=["new"])] == ["shifty"]
        assert [r["id"] for r in await shifty.discover(capabilities=["kept"])] == ["shifty"]


async def test_instances_share_identity_last_one_deregisters(
    sdk_env: str, redis_client: aioredis.Redis
) -> None:
    first = Agent("twin", **FAST)
    second = Agent("twin", **FAST)
    await first.start()
    await second.start()
    try:
        members = await redis_client.smembers(keys.agent_instances("twin"))
        assert {m.decode() for m in members} == {first.instance_id, second.instance_id}
        await first.stop()
        assert await redis_client.hget(keys.agent_record("twin"), "status") == b"ACTIVE"
        assert [r["id"] for r in await second.discover()] == ["twin"]
    finally:
        await first.stop()
        await second.stop()
    assert await redis_client.hget(keys.agent_record("twin"), "status") == b"INACTIVE"


async def test_crashed_instance_does_not_keep_agent_active(
    sdk_env: str, redis_client: aioredis.Redis
) -> None:
    await redis_client.sadd(keys.agent_instances("solo"), "crashed-instance")
    async with Agent("solo", **FAST):
        pass
    assert await redis_client.hget(keys.agent_record("solo"), "status") == b"INACTIVE"
    assert await redis_client.smembers(keys.agent_instances("solo")) == set()


async def test_register_and_deregister_events(sdk_env: str, redis_client: aioredis.Redis) -> None:
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(keys.SYSTEM_CHANNEL)
    try:
        async with MASService(service_url(sdk_env)):
            async with Agent("loud", capabilities=["talk"], **FAST):
                pass
            events: list[dict[str, Any]] = []
            async with asyncio.timeout(5):
                while len(events) < 2:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg is not None:
                        events.append(json.loads(msg["data"]))
    finally:
        await pubsub.aclose()
    assert [e["type"] for e in events] == ["REGISTER", "DEREGISTER"]
    assert events[0]["agent_id"] == "loud"
    assert events[0]["capabilities"] == ["talk"]
    assert events[1]["status"] == "INACTIVE"


async def test_heartbeat_reactivates_after_lapse(
    sdk_env: str, redis_client: aioredis.Redis
) -> None:
    async with Agent("phoenix", **FAST):
        await redis_client.hset(keys.agent_record("phoenix"), "status", "INACTIVE")

        async def active() -> bool:
            return await redis_client.hget(keys.agent_record("phoenix"), "status") == b"ACTIVE"

        await eventually(active)


async def test_revoked_agent_cannot_start(sdk_env: str, redis_client: aioredis.Redis) -> None:
    async with Agent("banned", **FAST):
        pass
    await revoke_agent(redis_client, "banned")
    with pytest.raises(CredentialsError, match="revoked or rotated"):
        await Agent("banned", **FAST).start()
    assert await redis_client.hget(keys.agent_record("banned"), "status") == b"REVOKED"


@pytest.mark.parametrize("bad", ["", "mas.gateway", "has space", "-dash", "x" * 200])
def test_invalid_agent_ids(bad: str) -> None:
    with pytest.raises(ValueError, match="agent id"):
        Agent(bad)


def test_unknown_option_and_direct_mode_are_errors() -> None:
    with pytest.raises(TypeError, match="heartbeat_intervall"):
        Agent("x", heartbeat_intervall=1)
    with pytest.raises(ValueError, match="heartbeat_ttl"):
        Agent("x", heartbeat_interval=10, heartbeat_ttl=5)
    with pytest.raises(ValueError, match="gateway"):
        Agent("x", use_gateway=False)


async def test_failing_on_start_releases_everything(
    sdk_env: str, gateway: DeliverySigner, redis_client: aioredis.Redis
) -> None:
    class Broken(Agent):
        async def on_start(self) -> None:
            raise RuntimeError("no database")

        @Agent.on("ping")
        async def ping(self, message: AgentMessage, payload: None) -> None:
            raise AssertionError("never handled before on_start succeeded")

    sent = await gateway.deliver("broken", "ping")
    agent = Broken("broken", **{**FAST, "stop_timeout": 60})
    async with asyncio.timeout(5):
        with pytest.raises(RuntimeError, match="no database"):
            await agent.start()
    assert not agent.running
    assert await redis_client.hget(keys.agent_record("broken"), "status") == b"INACTIVE"
    assert not await redis_client.exists(keys.agent_handling("broken", ledger_id(sent)))

    handled: list[str] = []

    class Fixed(Agent):
        @Agent.on("ping")
        async def ping(self, message: AgentMessage, payload: None) -> None:
            handled.append(message.message_id)

    async with Fixed("broken", **{**FAST, "claim_idle": 0.2}) as fixed:
        await fixed.wait_idle()
    assert handled == [sent.message_id]


async def test_concurrent_stops_are_one_stop(sdk_env: str) -> None:
    agent = Agent("stopper", **FAST)
    await agent.start()
    await asyncio.gather(agent.stop(), agent.stop(), agent.stop())
    assert not agent.running
