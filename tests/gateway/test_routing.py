"""Authorization, routing, rate limiting and malformed input through the whole gateway."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from mas import keys
from mas_gateway import GatewayService

from ..polling import wait_until
from .helpers import ProbeAgent, deliveries, gateway_settings, idle, notices


async def test_denied_route_gets_403_notice(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    patient = await ProbeAgent.provision(redis_client, "patient")
    await ProbeAgent.provision(redis_client, "specialist")
    async with GatewayService(gateway_settings(redis_url, tmp_path)) as gateway:
        mid = await patient.send("specialist", "referral.request", {})
        await idle(gateway)
        assert await deliveries(redis_client, gateway, "specialist") == []
        [notice] = await notices(redis_client, gateway, "patient")
    assert notice["code"] == 403
    assert notice["message_id"] == mid


async def test_unknown_target_gets_503(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    doctor = await ProbeAgent.provision(redis_client, "doctor")
    async with GatewayService(gateway_settings(redis_url, tmp_path)) as gateway:
        await doctor.send("patient", "consultation.response", {"answer": "rest"})
        await idle(gateway)
        [notice] = await notices(redis_client, gateway, "doctor")
    assert notice["code"] == 503
    assert not await redis_client.exists(keys.agent_stream("patient"))


async def test_stopped_known_target_keeps_messages_in_its_stream(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    patient = await ProbeAgent.provision(redis_client, "patient")
    await ProbeAgent.provision(redis_client, "doctor")
    await redis_client.hset(keys.agent_record("doctor"), "status", "INACTIVE")  # type: ignore[misc]
    async with GatewayService(gateway_settings(redis_url, tmp_path)) as gateway:
        await patient.send("doctor", "consultation.request", {"q": 1})
        await idle(gateway)
        assert len(await deliveries(redis_client, gateway, "doctor")) == 1


async def test_rate_limit_is_shared_by_two_gateways_and_says_when_to_retry(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    patient = await ProbeAgent.provision(redis_client, "patient")
    await ProbeAgent.provision(redis_client, "doctor")
    first = GatewayService(gateway_settings(redis_url, tmp_path, gateway_id="gw-1"))
    second = GatewayService(gateway_settings(redis_url, tmp_path, gateway_id="gw-2"))
    async with first, second:
        burst = 40  # far above the patient role's bucket
        for i in range(burst):
            await patient.send("doctor", "consultation.request", {"i": i})
        await idle(first)
        await idle(second)
        delivered = await deliveries(redis_client, first, "doctor")
        limited = await notices(redis_client, first, "patient")
    total = first.counts + second.counts
    assert total["delivered"] == len(delivered)
    assert total["rate_limited"] == len(limited) == burst - len(delivered)
    assert 0 < len(delivered) < burst
    assert all(n["code"] == 429 and n["retry_after"] > 0 for n in limited)


async def test_garbage_entries_are_rejected_and_the_gateway_keeps_running(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    patient = await ProbeAgent.provision(redis_client, "patient")
    await ProbeAgent.provision(redis_client, "doctor")
    garbage: list[dict[str, bytes]] = [
        {"nothing": b"useful"},
        {"envelope": b"\xff\xfe not json", "signature": b"x", "token": patient.token.encode()},
        {"envelope": b"[1, 2]", "signature": b"x", "token": b"t"},
        {"envelope": b'{"sender_id": "patient"}', "signature": b"x", "token": b"t"},
        {
            "envelope": b'{"v":1,"sender_id":"patient","target_id":"doctor","message_type":"a b",'
            b'"nonce":"0123456789abcdef0"}',
            "signature": b"x",
            "token": patient.token.encode(),
            "agent_id": b"patient",
        },
    ]
    async with GatewayService(gateway_settings(redis_url, tmp_path)) as gateway:
        for fields in garbage:
            await patient.submit_fields(fields)
        await patient.send("doctor", "consultation.request", {"still": "works"})
        await idle(gateway)
        delivered = await deliveries(redis_client, gateway, "doctor")
        rejected = await notices(redis_client, gateway, "patient")
    assert gateway.counts["malformed"] == len(garbage)
    assert [d.envelope.data for d in delivered] == [{"still": "works"}]
    # The outbox names its writer: the patient is told about each of its bad entries.
    assert [n["code"] for n in rejected] == [400] * len(garbage)
    assert "message_type" in rejected[-1]["reason"]


async def test_an_outbox_whose_group_was_destroyed_is_read_again(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    patient = await ProbeAgent.provision(redis_client, "patient")
    await ProbeAgent.provision(redis_client, "doctor")
    async with GatewayService(gateway_settings(redis_url, tmp_path)) as gateway:
        await patient.send("doctor", "consultation.request", {"q": 1})
        await idle(gateway)
        # An operator's mistake (agents may not run XGROUP): the next read answers NOGROUP.
        await redis_client.xgroup_destroy(keys.agent_outbox("patient"), keys.GATEWAY_GROUP)
        await patient.send("doctor", "consultation.request", {"q": 2})

        async def both_delivered() -> bool:
            return len(await deliveries(redis_client, gateway, "doctor")) == 2

        await wait_until(both_delivered, 60, "the message sent after the group was lost")
