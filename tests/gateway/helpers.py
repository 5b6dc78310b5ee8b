"""Test helpers: provisioned agents that submit signed envelopes, and delivery readers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mas import crypto, keys
from mas.envelope import (
    Delivery,
    Envelope,
    decode_fields,
    parse_delivered,
    sign_submission,
    verify_delivery,
)
from mas.provisioning import provision_agent
from mas_gateway import GatewayService, GatewaySettings
from mas_gateway.context import MessageContext
from mas_gateway.stages.base import Batch
from mas_gateway.stages.registry import StageEnv, register

from ..principals import gateway_url

REPO_POLICIES = Path(__file__).resolve().parents[2] / "policies"


def gateway_settings(redis_url: str, tmp_path: Path, **overrides: Any) -> GatewaySettings:
    """Settings for a test gateway on the repository's policies, as the gateway's own user."""
    values: dict[str, Any] = {
        "redis_url": gateway_url(redis_url),
        "policies_dir": REPO_POLICIES,
        "signing_key_path": tmp_path / "gateway.key",
        "auto_provision": True,
        "block_ms": 50,
        "dlp_workers": 0,  # scan in-process: the worker pool has its own tests
    }
    values.update(overrides)
    return GatewaySettings(**values)


OPEN_CLIENTS: list[aioredis.Redis] = []
"""Agent connections opened by `ProbeAgent`; tests/gateway/conftest.py closes them."""


def connect_as(admin: aioredis.Redis, username: str, password: str) -> aioredis.Redis:
    """A client on the admin's server that logs in as another user."""
    pool = admin.connection_pool
    kwargs = {**pool.connection_kwargs, "username": username, "password": password}
    client = aioredis.Redis(
        connection_pool=aioredis.ConnectionPool(connection_class=pool.connection_class, **kwargs)
    )
    OPEN_CLIENTS.append(client)
    return client


@dataclass
class ProbeAgent:
    """An operator-provisioned agent that writes its outbox directly, as its own Redis user."""

    agent_id: str
    token: str
    key: Ed25519PrivateKey
    client: aioredis.Redis
    """The agent's own connection."""
    admin: aioredis.Redis
    """The operator's connection it was provisioned through (for inspecting Redis)."""

    @classmethod
    async def provision(
        cls, admin: aioredis.Redis, agent_id: str, roles: list[str] | None = None
    ) -> ProbeAgent:
        agent = await provision_agent(admin, agent_id, roles or [])
        client = connect_as(admin, agent.redis_username, agent.redis_password)
        key = crypto.load_private_key(agent.private_key_b64)
        return cls(agent_id, agent.token, key, client, admin)

    def envelope(self, target: str, message_type: str, data: dict[str, Any], **kw: Any) -> Envelope:
        return Envelope(
            sender_id=self.agent_id, target_id=target, message_type=message_type, data=data, **kw
        )

    async def submit_fields(self, fields: dict[str, bytes]) -> str:
        entry = await self.client.xadd(keys.agent_outbox(self.agent_id), fields)  # type: ignore[arg-type]
        return entry.decode()

    async def send(self, target: str, message_type: str, data: dict[str, Any], **kw: Any) -> str:
        envelope = self.envelope(target, message_type, data, **kw)
        await self.submit_fields(sign_submission(envelope, self.key, self.token))
        return envelope.message_id


@dataclass
class World:
    """Two provisioned agents, a doctor and a patient, and the operator's connection."""

    doctor: ProbeAgent
    patient: ProbeAgent
    admin: aioredis.Redis
    tmp: Path


async def idle(gateway: GatewayService) -> None:
    """Wait until the gateway has processed everything submitted (bounded: a loaded machine
    running DLP on spaCy can take many seconds per batch)."""
    async with asyncio.timeout(60):
        await gateway.wait_idle()


async def deliveries(
    client: aioredis.Redis, gateway: GatewayService, agent_id: str
) -> list[Delivery]:
    """Every entry of the agent's stream, verified with the gateway's key."""
    trusted = {gateway.key.key_id: crypto.load_public_key(gateway.key.public_key_b64)}
    out = []
    for entry_id, raw in await client.xrange(keys.agent_stream(agent_id)):
        fields = decode_fields(raw)
        out.append(parse_delivered(verify_delivery(fields, trusted), fields, entry_id.decode()))
    return out


async def notices(
    client: aioredis.Redis, gateway: GatewayService, agent_id: str
) -> list[dict[str, Any]]:
    """Data of the rejection notices in the agent's stream."""
    return [
        d.envelope.data
        for d in await deliveries(client, gateway, agent_id)
        if d.gateway.kind == "rejection"
    ]


class Hold:
    """A stage that holds the batch until the test lets it go (name it in ``stages``)."""

    name = "hold"
    reached = asyncio.Event()
    release = asyncio.Event()

    async def prepare(self, batch: Batch[None]) -> None:
        Hold.reached.set()
        await Hold.release.wait()

    async def check(self, ctx: MessageContext, batch: Batch[None]) -> None:
        return None


async def _hold(env: StageEnv) -> Hold:
    return Hold()


register("hold", _hold)
