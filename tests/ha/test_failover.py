"""Kill the Sentinel-managed primary during traffic: everything committed is handled, once."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mas import Agent, AgentMessage, crypto, keys
from mas.redis_connect import connect_redis
from mas_gateway import GatewayService, GatewaySettings
from mas_gateway.audit.verifier import combine_reports, verify_shards
from mas_gateway.context import MessageContext
from mas_gateway.embedded_ha import EmbeddedSentinel

from ..principals import gateway_url
from ..sdk.conftest import sdk_policies

MESSAGES = 120
KILL_AFTER = 30
"""The primary is killed once the receiver has handled this many messages."""

AGENT_OPTIONS: dict[str, Any] = {
    "heartbeat_interval": 0.5,
    "heartbeat_ttl": 30.0,
    "block_ms": 100,
    "claim_idle": 5.0,
    "stop_timeout": 10.0,
    "socket_timeout": 1.0,
    "submit_retry_s": 120.0,
    "rate_limit_wait": 300.0,
    "submit_replicas": 1,
    "replica_timeout_ms": 500,
}
"""Commands to a dead primary fail within a second; sends retry for as long as a failover takes."""


class Receiver(Agent):
    """Counts every message its handler ran; tells the test when `KILL_AFTER` were handled."""

    def __init__(self, agent_id: str, **kwargs: Any) -> None:
        super().__init__(agent_id, **kwargs)
        self.handled: Counter[str] = Counter()
        self.enough = asyncio.Event()
        self.changed = asyncio.Event()

    @Agent.on("note")
    async def note(self, message: AgentMessage, payload: None) -> None:
        self.handled[message.message_id] += 1
        if len(self.handled) >= KILL_AFTER:
            self.enough.set()
        self.changed.set()

    @Agent.on("question.ask")
    async def ask(self, message: AgentMessage, payload: None) -> None:
        await message.reply("question.answer", {"echo": message.data.get("text")})


async def _handled_all(receiver: Receiver, wanted: set[str], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not wanted <= set(receiver.handled):
            receiver.changed.clear()
            await receiver.changed.wait()


@pytest.fixture
def sentinel_env(
    sentinel_setup: EmbeddedSentinel, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> EmbeddedSentinel:
    monkeypatch.setenv("MAS_REDIS_URL", sentinel_setup.url)
    monkeypatch.setenv("MAS_AUTO_PROVISION", "1")
    monkeypatch.setenv("MAS_CREDENTIALS_DIR", str(tmp_path / "credentials"))
    return sentinel_setup


@pytest.mark.timeout(600)  # a bound, not a speed claim: a loaded machine may be slow
async def test_killing_the_primary_loses_no_committed_message_and_repeats_none(
    sentinel_env: EmbeddedSentinel, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mas")
    setup = sentinel_env
    settings = GatewaySettings(
        redis_url=gateway_url(setup.url),
        policies_dir=sdk_policies(tmp_path / "policies"),
        auto_provision=True,
        signing_key_path=tmp_path / "gw.key",
        block_ms=100,
        claim_idle_ms=5000,
        redis_socket_timeout_s=1.5,
        policy_poll_s=None,
        dlp_workers=0,
        commit_replicas=1,
        replica_timeout_ms=500,
    )
    committed: list[str] = []

    def on_decision(ctx: MessageContext) -> None:
        envelope = ctx.envelope
        if ctx.decision == "delivered" and envelope is not None and envelope.message_type == "note":
            committed.append(envelope.message_id)

    sent: list[str] = []
    async with GatewayService(settings) as gateway:
        gateway.add_listener(on_decision)
        async with (
            Receiver("responder", **AGENT_OPTIONS) as receiver,
            Agent("asker", **AGENT_OPTIONS) as sender,
        ):

            async def traffic() -> None:
                for n in range(MESSAGES):
                    sent.append(await sender.send("responder", "note", message_id=f"m-{n}"))

            sending = asyncio.create_task(traffic())
            await asyncio.wait_for(receiver.enough.wait(), 120)
            old = setup.kill_primary()
            new = await asyncio.to_thread(setup.wait_failover, old, 120)
            await asyncio.wait_for(sending, 300)
            await _handled_all(receiver, set(sent), 300)
            # A request after the failover: its pending mark is fenced and waited for too.
            answer = await sender.request("responder", "question.ask", {"text": "hi"}, timeout=120)
            gateway_failure = gateway.watchdog.failure
            assert gateway.checkpointer is not None
            await gateway.checkpointer.checkpoint_now()
            gateway_key = gateway.key
    assert new != old
    assert gateway_failure is None, "a gateway loop died"
    assert answer.data == {"echo": "hi"}
    assert len(sent) == MESSAGES
    assert set(committed) <= set(receiver.handled), "a committed message was never handled"
    assert set(sent) <= set(receiver.handled), "a sent message was never handled"
    twice = {m: n for m, n in receiver.handled.items() if n > 1}
    assert twice == {}, f"handled more than once: {twice}"
    admin = connect_redis(setup.url)
    try:
        assert (await admin.info("replication"))["role"] == "master"
        assert await admin.xlen(keys.DLQ) == 0
        assert await admin.xlen(keys.agent_dlq("responder")) == 0
        trusted = {gateway_key.key_id: crypto.load_public_key(gateway_key.public_key_b64)}
        report = combine_reports(await verify_shards(admin, trusted=trusted))
        assert report.ok, report.lines()  # the audit log survived the failover intact
    finally:
        await admin.aclose()
