"""An agent process killed with SIGKILL mid-work and restarted ends with every message handled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from mas import keys
from mas.envelope import Envelope, decode_fields, parse_delivered

from .conftest import DeliverySigner, dead_letters, eventually

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

WORKER = Path(__file__).with_name("crash_agent.py")
HANDLED = "test:handled"
TOTAL = 500


def _spawn(env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), "worker"], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


async def _pending_message_ids(redis: aioredis.Redis) -> set[str]:
    stream = keys.agent_stream("worker")
    pending = await redis.xpending_range(stream, keys.AGENTS_GROUP, "-", "+", TOTAL)
    ids: set[str] = set()
    for entry in pending:
        [(entry_id, raw)] = await redis.xrange(stream, entry["message_id"], entry["message_id"])
        fields = decode_fields(raw)
        ids.add(parse_delivered(fields["envelope"], fields, entry_id.decode()).envelope.message_id)
    return ids


async def test_sigkill_mid_work_then_restart_handles_everything(
    sdk_env: str, gateway: DeliverySigner, redis_client: aioredis.Redis, creds_dir: Path
) -> None:
    env = {**os.environ, "MAS_GATEWAY_PUBLIC_KEY": gateway.public_key}
    first = _spawn(env)
    try:
        sent: list[str] = []
        pipe = redis_client.pipeline(transaction=False)
        for i in range(TOTAL):
            envelope = Envelope(
                sender_id="sender", target_id="worker", message_type="work", data={"i": i}
            )
            sent.append(envelope.message_id)
            pipe.xadd(keys.agent_stream("worker"), gateway.fields(envelope))  # type: ignore[arg-type]
        await pipe.execute()

        async def frozen_mid_handling() -> bool:
            """Freeze the agent when some handlers are running and none has finished unacked.

            SIGSTOP makes the check exact: the process is killed while handlers are in the
            middle of their work, never in the instant between a handler's last write and
            its acknowledgement (that instant cannot be made atomic with arbitrary handler
            side effects; see ARCHITECTURE.md).
            """
            if await redis_client.hlen(HANDLED) < TOTAL // 4:
                return False
            first.send_signal(signal.SIGSTOP)
            running = await _pending_message_ids(redis_client)
            finished = {k.decode() for k in await redis_client.hkeys(HANDLED)}
            if running and not running & finished:
                return True
            first.send_signal(signal.SIGCONT)
            return False

        await eventually(frozen_mid_handling, timeout=30)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert first.stdout is not None
        first.stdout.close()
    interrupted = await _pending_message_ids(redis_client)
    assert interrupted, "the kill should leave some messages unacknowledged"
    assert await redis_client.hlen(HANDLED) < TOTAL

    second = _spawn(env)
    try:

        async def all_done() -> bool:
            info = await redis_client.xpending(keys.agent_stream("worker"), keys.AGENTS_GROUP)
            return await redis_client.hlen(HANDLED) == TOTAL and int(info["pending"]) == 0

        await eventually(all_done, timeout=60)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
        assert second.stdout is not None
        second.stdout.close()

    counts = {k.decode(): int(v) for k, v in (await redis_client.hgetall(HANDLED)).items()}
    assert set(counts) == set(sent), "every message is handled"
    assert sorted(counts.values()) == [1] * TOTAL, "no message is handled twice"
    assert await dead_letters(redis_client) == []
    check = redis_client.pipeline(transaction=False)
    for mid in sent:
        check.exists(keys.agent_done("worker", f"sender:{mid}"))  # sender and message id
    assert all(await check.execute())
