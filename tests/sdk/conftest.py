"""SDK test fixtures: agents set up for the test Redis, a test gateway key, signed deliveries."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mas import Agent, crypto, keys
from mas.envelope import Envelope, GatewayStamp, sign_delivery
from mas_gateway import GatewayService, GatewaySettings

from ..principals import gateway_url

REPO_POLICIES = Path(__file__).resolve().parents[2] / "policies"

TEST_AGENTS = (
    "my_agent",
    "other_agent",
    "target_agent",
    "typed_agent",
    "chat_agent",
    "agent_1",
    "agent_2",
    "agent_3",
    "client",
    "asker",
    "responder",
    "picky",
)
"""Agent ids the test policy lets send anything to anyone (role ``sdk-tester``)."""

FAST: dict[str, Any] = {
    "heartbeat_interval": 0.2,
    "heartbeat_ttl": 1.0,
    "block_ms": 50,
    "claim_idle": 1.0,
    "stop_timeout": 5.0,
}
"""Agent options that keep tests quick."""


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Poll a condition that has no event to await, until true or `timeout` (then fail)."""
    async with asyncio.timeout(timeout):
        while True:
            if await check():
                return
            await asyncio.sleep(0.02)


async def dead_letters(redis: aioredis.Redis) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """Every dead letter: the gateway's and each provisioned agent's, oldest first per stream."""
    agents = sorted(m.decode() for m in await redis.smembers(keys.ALL_AGENTS))
    streams = [keys.DLQ, *(keys.agent_dlq(a) for a in agents)]
    letters: list[tuple[bytes, dict[bytes, bytes]]] = []
    for stream in streams:
        letters.extend(await redis.xrange(stream))
    return letters


@pytest.fixture
def creds_dir(tmp_path: Path) -> Path:
    """Per-test credentials directory."""
    return tmp_path / "credentials"


@pytest.fixture
def sdk_env(monkeypatch: pytest.MonkeyPatch, redis_url: str, creds_dir: Path) -> str:
    """Environment of a developer machine: test Redis, auto-provisioning, own credentials dir."""
    monkeypatch.setenv("MAS_REDIS_URL", redis_url)
    monkeypatch.setenv("MAS_AUTO_PROVISION", "1")
    monkeypatch.setenv("MAS_CREDENTIALS_DIR", str(creds_dir))
    monkeypatch.delenv("MAS_CREDENTIALS", raising=False)
    monkeypatch.delenv("MAS_GATEWAY_PUBLIC_KEY", raising=False)
    return redis_url


class DeliverySigner:
    """Signs deliveries like the gateway does, with a key pinned for the agents under test."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self.key: Ed25519PrivateKey = crypto.generate_private_key()
        self.key_id = crypto.key_id(self.key)
        self.public_key = crypto.public_key_to_b64(self.key)

    async def publish_key(self) -> None:
        """Publish the key in Redis, where auto-provisioned agents find it (trust on first use)."""
        await self.redis.hset(keys.GATEWAY_KEYS, self.key_id, self.public_key)

    def fields(
        self, envelope: Envelope, *, key: Ed25519PrivateKey | None = None, kind: str = "message"
    ) -> dict[str, bytes]:
        """Stream fields of a delivery of `envelope` signed by this gateway (or by `key`)."""
        signer = key or self.key
        stamp = GatewayStamp(
            gateway_id="test-gateway",
            key_id=crypto.key_id(signer),
            delivered_at=time.time(),
            kind=kind,  # type: ignore[arg-type]
        )
        return sign_delivery(envelope.model_dump(mode="json"), stamp, signer)

    async def deliver(
        self,
        target: str,
        message_type: str,
        data: dict[str, Any] | None = None,
        *,
        sender: str = "sender",
        **envelope: Any,
    ) -> Envelope:
        """Write a signed delivery straight into the target's stream."""
        env = Envelope(
            sender_id=sender,
            target_id=target,
            message_type=message_type,
            data=data or {},
            **envelope,
        )
        await self.redis.xadd(keys.agent_stream(target), self.fields(env))  # type: ignore[arg-type]
        return env


@pytest.fixture
async def gateway(redis_client: aioredis.Redis) -> DeliverySigner:
    """A test gateway key, published for trust on first use."""
    gw = DeliverySigner(redis_client)
    await gw.publish_key()
    return gw


def sdk_policies(target: Path) -> Path:
    """The repository's policies plus a role ``sdk-tester`` for `TEST_AGENTS` that may send all."""
    shutil.copytree(REPO_POLICIES, target)
    with (target / "roles.csv").open("a", encoding="utf-8") as roles:
        roles.write("\n" + "".join(f"g, {agent_id}, sdk-tester\n" for agent_id in TEST_AGENTS))
    with (target / "policy.csv").open("a", encoding="utf-8") as policy:
        policy.write("\n# SDK tests: the test agents may send any type to anyone\n")
        policy.write("p, sdk-tester, *, *, allow\n")
    # The seed examples greet people by name: names may pass between the test agents.
    dlp = (target / "dlp.yaml").read_text(encoding="utf-8")
    route = (
        'routes:\n  - name: sdk tests\n    from: [sdk-tester]\n    to: "*"\n'
        "    actions:\n      CONTACT: allow\n\n"
    )
    (target / "dlp.yaml").write_text(dlp.replace("routes:\n", route, 1), encoding="utf-8")
    return target


@pytest.fixture
async def gateway_service(sdk_env: str, tmp_path: Path) -> AsyncIterator[GatewayService]:
    """A real gateway on the test Redis with the SDK test policies; agents trust it on first use."""
    settings = GatewaySettings(
        redis_url=gateway_url(sdk_env),
        policies_dir=sdk_policies(tmp_path / "policies"),
        auto_provision=True,
        signing_key_path=tmp_path / "gw.key",
        block_ms=50,
        policy_poll_s=None,
        dlp_workers=0,  # scan in-process: the worker pool has its own tests
    )
    async with GatewayService(settings) as service:
        yield service


async def settle(gateway: GatewayService, *agents: Agent[Any], hops: int = 3) -> None:
    """Let messages travel `hops` times sender -> gateway -> receiver, then return."""
    for _ in range(hops):
        async with asyncio.timeout(10):
            await gateway.wait_idle()
        for agent in agents:
            await agent.wait_idle()
