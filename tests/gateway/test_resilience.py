"""Resilience of the gateway: Redis outages refuse nothing, loops never end silently,
a message id is forwarded once, and full queues push back with 429."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from mas import keys
from mas_gateway import GatewayService
from mas_gateway.audit.entry import parse_entry
from mas_gateway.cli import main

from ..auditlog import audit_xrange
from .helpers import Hold, World, deliveries, gateway_settings, idle, notices


async def audited(admin: aioredis.Redis) -> list[str]:
    return [parse_entry(f[b"entry"])["decision"] for _, f in await audit_xrange(admin)]


# -- transient Redis errors -------------------------------------------------------------


async def test_a_redis_stall_while_a_batch_is_checked_refuses_nothing(
    world: World, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis stops answering between two stages: the batch waits, then goes through once."""
    Hold.reached, Hold.release = asyncio.Event(), asyncio.Event()
    stages = ["parse", "authn", "hold", "dedup", "authz", "target", "ratelimit", "dlp"]
    settings = gateway_settings(redis_url, world.tmp, stages=stages, redis_socket_timeout_s=1.2)
    caplog.set_level(logging.INFO, logger="mas_gateway")
    async with GatewayService(settings) as gateway:
        mid = await world.doctor.send("patient", "consultation.response", {"note": "fine"})
        await asyncio.wait_for(Hold.reached.wait(), 10)
        await world.admin.execute_command("CLIENT", "PAUSE", "3000", "ALL")
        Hold.release.set()  # the next stage's Redis call times out, and the next, ...
        await world.admin.ping()  # answered once the pause is over
        await idle(gateway)
        delivered = await deliveries(world.admin, gateway, "patient")
        counts = gateway.counts
    assert [d.envelope.message_id for d in delivered] == [mid]
    assert counts == Counter(delivered=1)
    assert await world.admin.xlen(keys.DLQ) == 0
    assert await notices(world.admin, gateway, "doctor") == []
    outage = [r.getMessage() for r in caplog.records if "checking a batch" in r.getMessage()]
    assert len(outage) == 2, outage  # one line when it starts, one when it ends
    assert "unavailable" in outage[0] and "reachable again" in outage[1]


# -- watchdog and settings --------------------------------------------------------------


async def test_a_loop_that_dies_is_reported_and_fails_readiness(
    redis_url: str, tmp_path: Path
) -> None:
    settings = gateway_settings(redis_url, tmp_path, http_address="127.0.0.1:0")
    async with GatewayService(settings) as gateway:

        async def broken() -> None:
            raise RuntimeError("bug in the loop")

        gateway.watchdog.watch(asyncio.create_task(broken(), name="gateway-extra"))
        failure = await asyncio.wait_for(gateway.wait_failed(), 10)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{gateway.ops_port}/readyz") as response,
        ):
            status, report = response.status, await response.json()
    assert "gateway-extra" in failure and "RuntimeError" in failure
    assert status == 503 and "gateway-extra" in report["checks"]["loops"]


def test_a_block_time_the_socket_timeout_cuts_short_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("MAS_BLOCK_MS", "9500")
    code = main(["gateway", "--redis-url", "redis://127.0.0.1:9/0", "--signing-key", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "block_ms (9500 ms) must be at least 1000 ms shorter than redis_socket_timeout_s" in err


# -- one message id, forwarded once -----------------------------------------------------


async def test_a_resubmitted_message_id_is_delivered_once_and_nobody_is_told(
    world: World, redis_url: str
) -> None:
    async with GatewayService(gateway_settings(redis_url, world.tmp)) as gateway:
        mid = await world.doctor.send("patient", "consultation.response", {"n": 1})
        await idle(gateway)
        for _ in range(2):  # a retry after a timeout, and a second copy in the same batch
            await world.doctor.send("patient", "consultation.response", {"n": 1}, message_id=mid)
        await idle(gateway)
        delivered = await deliveries(world.admin, gateway, "patient")
        told = await notices(world.admin, gateway, "doctor")
    assert [d.envelope.message_id for d in delivered] == [mid]
    assert told == []
    assert await audited(world.admin) == ["delivered", "duplicate", "duplicate"]
    assert await world.admin.xlen(keys.agent_outbox("doctor")) == 0


async def test_the_commit_forwards_a_message_id_once_even_without_the_stage(
    world: World, redis_url: str
) -> None:
    """Two copies racing past the check (e.g. on two gateways) are stopped by the commit."""
    mid = await world.doctor.send("patient", "consultation.response", {"n": 1})
    await world.doctor.send("patient", "consultation.response", {"n": 1}, message_id=mid)
    stages = ["parse", "authn", "authz", "target", "ratelimit", "dlp"]
    async with GatewayService(gateway_settings(redis_url, world.tmp, stages=stages)) as gateway:
        await idle(gateway)
        delivered = await deliveries(world.admin, gateway, "patient")
    assert [d.envelope.message_id for d in delivered] == [mid]
    assert await audited(world.admin) == ["delivered"]
    assert await world.admin.xlen(keys.agent_outbox("doctor")) == 0


async def test_a_refused_message_id_can_be_sent_again(world: World, redis_url: str) -> None:
    async with GatewayService(gateway_settings(redis_url, world.tmp)) as gateway:
        mid = await world.doctor.send("patient", "no.such.route", {"n": 1})
        await idle(gateway)
        await world.doctor.send("patient", "consultation.response", {"n": 1}, message_id=mid)
        await idle(gateway)
        delivered = await deliveries(world.admin, gateway, "patient")
    assert [d.envelope.message_id for d in delivered] == [mid]
    assert await audited(world.admin) == ["denied", "delivered"]


# -- backpressure -----------------------------------------------------------------------


async def test_a_full_inbox_pushes_back_with_429(world: World, redis_url: str) -> None:
    settings = gateway_settings(redis_url, world.tmp, max_inbox=2)
    async with GatewayService(settings) as gateway:
        for n in range(4):  # nobody reads the patient's inbox
            await world.doctor.send("patient", "consultation.response", {"n": n})
        await idle(gateway)
        delivered = await deliveries(world.admin, gateway, "patient")
        told = await notices(world.admin, gateway, "doctor")
    assert [d.envelope.data["n"] for d in delivered] == [0, 1]
    assert [(t["code"], t["retry_after"]) for t in told] == [(429, 1.0), (429, 1.0)]
    assert all("inbox of 'patient'" in t["reason"] for t in told)


async def test_an_outbox_far_behind_pushes_back_with_429(world: World, redis_url: str) -> None:
    for n in range(4):  # submitted before any gateway reads: the outbox lags by 4
        await world.doctor.send("patient", "consultation.response", {"n": n})
    settings = gateway_settings(redis_url, world.tmp, max_outbox_lag=2)
    async with GatewayService(settings) as gateway:
        await idle(gateway)
        told = await notices(world.admin, gateway, "doctor")
        await world.doctor.send("patient", "consultation.response", {"n": 4})
        await idle(gateway)
        delivered = await deliveries(world.admin, gateway, "patient")
    assert [t["code"] for t in told] == [429] * 4
    assert all("outbox of 'doctor' has 4 submissions waiting" in t["reason"] for t in told)
    assert [d.envelope.data["n"] for d in delivered if d.gateway.kind == "message"] == [4]
