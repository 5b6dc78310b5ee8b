"""GatewayService's lifecycle: a failed start stops what it had started; a stopped one restarts."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis

from mas.errors import ConfigError
from mas_gateway import GatewayService

from .helpers import ProbeAgent, deliveries, gateway_settings, idle


async def test_a_start_that_fails_stops_the_parts_it_had_started(
    redis_url: str, tmp_path: Path
) -> None:
    # The policy store starts watching before the stages are built; the unknown stage
    # fails the start after that.
    gateway = GatewayService(gateway_settings(redis_url, tmp_path, stages=["parse", "sniff"]))
    with pytest.raises(ConfigError, match="unknown stage"):
        await gateway.start()
    assert gateway.policy is not None
    assert gateway.policy.tasks == []  # its watcher was stopped
    with pytest.raises(RuntimeError, match="not started"):
        _ = gateway.client  # and the connection closed


async def test_a_stopped_gateway_starts_again_and_delivers(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    patient = await ProbeAgent.provision(redis_client, "patient")
    await ProbeAgent.provision(redis_client, "doctor")
    gateway = GatewayService(gateway_settings(redis_url, tmp_path))
    first_round: list[int] = []
    for question in ("cough", "fever"):
        async with gateway:
            await patient.send("doctor", "consultation.request", {"q": question})
            await idle(gateway)
            assert gateway.policy is not None and len(gateway.policy.tasks) > 0
            first_round.append(gateway.counts["delivered"])
            received = await deliveries(redis_client, gateway, "doctor")
        assert gateway.policy.tasks == []  # stopped with the gateway
    assert first_round == [1, 1]  # counts are per start
    assert [d.envelope.data for d in received] == [{"q": "cough"}, {"q": "fever"}]
