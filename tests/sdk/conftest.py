"""SDK test fixtures: agents set up for the test Redis, a test gateway key, signed deliveries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mas import crypto, keys
from mas.envelope import Envelope, GatewayStamp, sign_delivery

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
