"""A gateway process killed with SIGKILL mid-batch loses and duplicates nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from mas import keys
from mas.envelope import sign_submission
from mas_gateway.benchmarks.policies import bulk_policies
from mas_gateway.signing import write_signing_key

from ..polling import wait_until
from ..principals import gateway_url
from .helpers import REPO_POLICIES, ProbeAgent

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

MESSAGES = 3000


def _start_gateway(
    redis_url: str, policies: Path, key: Path, gateway_id: str, batch: int
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MAS_GATEWAY_ID": gateway_id,
        "MAS_BATCH_SIZE": str(batch),
        "MAS_CLAIM_IDLE_MS": "1000",
        "MAS_BLOCK_MS": "100",
        "MAS_DLP_WORKERS": "0",
    }
    with (key.parent / f"{gateway_id}.log").open("wb") as log:  # the child keeps its copy
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mas_gateway.cli",
                "gateway",
                "--redis-url",
                redis_url,
                "--policies",
                str(policies),
                "--signing-key",
                str(key),
                "--log-level",
                "INFO",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


async def _pending_of(client: aioredis.Redis, gateway_id: str) -> int:
    consumers = await client.xinfo_consumers(keys.agent_outbox("loader"), keys.GATEWAY_GROUP)
    return sum(
        int(c["pending"]) for c in consumers if c["name"].decode().startswith(f"{gateway_id}-")
    )


@pytest.mark.timeout(600)  # bounds, not speed claims: a loaded machine may be slow
async def test_gateway_killed_mid_batch_forwards_every_message_exactly_once(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    policies = bulk_policies(REPO_POLICIES, tmp_path / "policies")
    key = tmp_path / "gateway.key"
    write_signing_key(key)
    loader = await ProbeAgent.provision(redis_client, "loader")
    await ProbeAgent.provision(redis_client, "sink")
    sent: set[str] = set()
    async with redis_client.pipeline(transaction=False) as pipe:
        for i in range(MESSAGES):
            envelope = loader.envelope("sink", "load.item", {"i": i})
            sent.add(envelope.message_id)
            pipe.xadd(
                keys.agent_outbox("loader"), sign_submission(envelope, loader.key, loader.token)
            )  # type: ignore[arg-type]
        await pipe.execute()

    url = gateway_url(redis_url)
    victim = _start_gateway(url, policies, key, "gw-victim", batch=400)
    survivor = _start_gateway(url, policies, key, "gw-survivor", batch=50)
    try:
        sink = keys.agent_stream("sink")
        stranded: list[int] = []

        async def victim_frozen_mid_batch() -> bool:
            """Freeze the victim; keep it frozen only if it holds read-but-uncommitted entries."""
            if await redis_client.xlen(sink) < MESSAGES // 5:
                return False
            victim.send_signal(signal.SIGSTOP)
            pending = await _pending_of(redis_client, "gw-victim")
            if pending > 0:
                # Counted while frozen: the survivor may claim them from the next moment on.
                stranded.append(pending)
                return True
            victim.send_signal(signal.SIGCONT)
            return False

        await wait_until(victim_frozen_mid_batch, 240, "the victim gateway to be mid-batch")
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        assert stranded and stranded[0] > 0

        async def all_forwarded() -> bool:
            return (
                await redis_client.xlen(sink) >= MESSAGES
                and await redis_client.xlen(keys.agent_outbox("loader")) == 0
            )

        await wait_until(all_forwarded, 240, "the survivor to forward everything")
        assert await _pending_of(redis_client, "gw-victim") == 0
    finally:
        for proc in (victim, survivor):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()  # never leave a gateway behind to consume later tests' entries
                    proc.wait()
                    raise

    delivered = [
        fields[b"envelope"] for _id, fields in await redis_client.xrange(keys.agent_stream("sink"))
    ]
    ids = [json.loads(raw)["message_id"] for raw in delivered]
    assert len(ids) == MESSAGES, "no forward may be duplicated"
    assert set(ids) == sent, "no message may be lost"
