"""`mas dlq list` / `replay`: a message that kept failing is handled once the handler is fixed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from mas import Agent, AgentMessage, keys
from mas_gateway.cli import main
from mas_gateway.devstack import DevStack

from ..polling import wait_until


class FlakyDoctor(Agent):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("doctor", claim_idle=0.2, max_deliveries=2, **kwargs)  # type: ignore[arg-type]
        self.broken = True
        self.handled: asyncio.Queue[str] = asyncio.Queue()

    @Agent.on("consultation.request")
    async def consult(self, message: AgentMessage, payload: None) -> None:
        if self.broken:
            raise RuntimeError("lab system unreachable")
        await self.handled.put(str(message.data["question"]))


async def cli(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


async def test_dead_letter_is_listed_and_replayed_to_the_agent(
    redis_url: str, redis_client: aioredis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    async with DevStack(redis_url=redis_url) as stack:
        doctor = FlakyDoctor(**stack.agent_options())
        patient = Agent("patient", **stack.agent_options())
        async with doctor, patient:
            await patient.send("doctor", "consultation.request", {"question": "cough"})

            async def dead_lettered() -> bool:
                return await redis_client.xlen(keys.agent_dlq("doctor")) == 1

            await wait_until(dead_lettered, 20, "the failing message to be dead-lettered")
            capsys.readouterr()
            assert await cli("dlq", "list", "--json", "--redis-url", redis_url) == 0
            [letter] = json.loads(capsys.readouterr().out)
            assert letter["owner"] == "doctor" and letter["id"].startswith("doctor/")
            assert letter["sender"] == "patient" and letter["replayable"] is True
            assert "lab system unreachable" in (letter["error"] or "")

            doctor.broken = False
            key = str(stack.workdir / "gateway_signing_key")
            replay = ("dlq", "replay", letter["id"], "--gateway-key", key, "--redis-url", redis_url)
            assert await cli(*replay) == 0
            async with asyncio.timeout(10):
                assert await doctor.handled.get() == "cough"
    assert await redis_client.xlen(keys.agent_dlq("doctor")) == 0


async def test_gateway_dead_letters_are_not_replayable(
    redis_url: str,
    redis_client: aioredis.Redis,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    entry = await redis_client.xadd(
        keys.DLQ,
        {"dlq_reason": "internal gateway error in stage dlp", "dlq_source": "gateway:gw-1"},
    )
    key = tmp_path / "gw.key"
    assert await cli("gateway", "keygen", "--out", str(key)) == 0
    name = f"gateway/{entry.decode()}"
    assert (
        await cli("dlq", "replay", name, "--gateway-key", str(key), "--redis-url", redis_url) == 1
    )
    assert "sender must resubmit" in capsys.readouterr().out
    assert await redis_client.xlen(keys.DLQ) == 1
