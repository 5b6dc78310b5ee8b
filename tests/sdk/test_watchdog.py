"""A long-running SDK task that dies stops its agent or service loudly, naming the task."""

from __future__ import annotations

import asyncio

import pytest

from mas import Agent, BackgroundTaskDied, ConfigError, MASService
from mas.service import run_service

from ..polling import wait_until
from ..principals import service_url
from .conftest import FAST


async def _broken(*_args: object) -> int:
    raise RuntimeError("a bug in the loop")


async def test_a_dead_loop_stops_the_agent_and_run_raises_naming_it(sdk_env: str) -> None:
    agent = Agent("my_agent", **FAST)
    running = asyncio.create_task(agent.run())

    async def started() -> bool:
        return agent.running

    await wait_until(started, 10, "the agent to start")
    agent._require().consumer.reclaim = _broken  # type: ignore[method-assign]
    with pytest.raises(BackgroundTaskDied, match="mas-reclaim-my_agent") as info:
        await asyncio.wait_for(running, 10)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert not agent.running
    with pytest.raises(BackgroundTaskDied):
        await agent.send("other_agent", "note")


async def test_run_returns_after_stop(sdk_env: str) -> None:
    agent = Agent("my_agent", **FAST)
    running = asyncio.create_task(agent.run())

    async def started() -> bool:
        return agent.running

    await wait_until(started, 10, "the agent to start")
    await agent.stop()
    assert await asyncio.wait_for(running, 10) is None


async def test_a_dead_service_loop_stops_run_service(
    sdk_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(MASService, "check_once", _broken)
    with pytest.raises(BackgroundTaskDied, match="MAS service: background task mas-service"):
        await asyncio.wait_for(run_service(service_url(sdk_env), check_interval=0.05), 10)


def test_block_ms_at_or_above_the_socket_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match=r"block_ms \(2000 ms\).*socket timeout \(1.0 s"):
        Agent("my_agent", block_ms=2000, socket_timeout=1.0)


async def test_a_socket_timeout_in_the_url_below_block_ms_is_refused_at_start(sdk_env: str) -> None:
    agent = Agent("my_agent", redis_url=f"{sdk_env}?socket_timeout=0.5", block_ms=1000)
    with pytest.raises(ConfigError, match="from the Redis URL"):
        await agent.start()
    assert not agent.running
