"""MASService: lapsed heartbeats become INACTIVE (after the grace period) with a STATUS event."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import redis.asyncio as aioredis

from mas import Agent, MASService, keys
from mas.service import redact_url

from ..principals import service_url
from .conftest import FAST, eventually


async def _status(redis: aioredis.Redis, agent_id: str) -> bytes | None:
    return await redis.hget(keys.agent_record(agent_id), "status")


async def test_lapsed_heartbeat_marks_inactive(sdk_env: str, redis_client: aioredis.Redis) -> None:
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(keys.SYSTEM_CHANNEL)
    agent = Agent("lapsing", capabilities=["x"], **FAST)
    await agent.start()
    try:
        session = agent._require()
        session.watchdog.close()  # the process hangs (no task dies): no more heartbeats
        await session.heartbeat.stop()
        async with MASService(service_url(sdk_env), check_interval=0.05, grace_period=0.0):

            async def inactive() -> bool:
                return await _status(redis_client, "lapsing") == b"INACTIVE"

            await eventually(inactive, timeout=10)
            events = []
            async with asyncio.timeout(5):
                while not any(e["type"] == "STATUS" for e in events):
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg is not None:
                        events.append(json.loads(msg["data"]))
        status_event = next(e for e in events if e["type"] == "STATUS")
        assert status_event == {
            **status_event,
            "agent_id": "lapsing",
            "status": "INACTIVE",
            "reason": "heartbeat lapsed",
        }
        assert await agent.discover() == []
    finally:
        await agent.stop()
        await pubsub.aclose()


async def test_live_agents_and_grace_period_are_respected(
    sdk_env: str, redis_client: aioredis.Redis
) -> None:
    async with Agent("alive", **FAST):
        await redis_client.hset(
            keys.agent_record("fresh"),
            mapping={"id": "fresh", "status": "ACTIVE", "registered_at": repr(time.time())},
        )
        await redis_client.sadd(keys.ALL_AGENTS, "fresh")
        async with MASService(service_url(sdk_env), check_interval=60, grace_period=30) as service:
            assert await service.check_once() == []
            assert await _status(redis_client, "alive") == b"ACTIVE"
            assert await _status(redis_client, "fresh") == b"ACTIVE"
        async with MASService(service_url(sdk_env), check_interval=60, grace_period=0) as service:
            await service.check_once()
            assert await _status(redis_client, "fresh") == b"INACTIVE"
            assert await _status(redis_client, "alive") == b"ACTIVE"


async def test_revoked_agents_are_left_alone(sdk_env: str, redis_client: aioredis.Redis) -> None:
    await redis_client.hset(
        keys.agent_record("gone"), mapping={"status": "REVOKED", "registered_at": "0"}
    )
    await redis_client.sadd(keys.ALL_AGENTS, "gone")
    async with MASService(service_url(sdk_env), check_interval=60, grace_period=0) as service:
        assert await service.check_once() == []
    assert await _status(redis_client, "gone") == b"REVOKED"


def test_redact_url_hides_password() -> None:
    assert redact_url("redis://user:s3cret@host:6380/0") == "redis://user:***@host:6380/0"
    assert redact_url("redis://host:6379") == "redis://host:6379"


@pytest.mark.subprocess
def test_python_m_mas_service_runs_until_sigterm(redis_url: str) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mas.service", "--redis-url", redis_url, "--check-interval", "0.1"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "MAS service watching" in line
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def test_service_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="check_interval"):
        MASService("redis://localhost", check_interval=0)
