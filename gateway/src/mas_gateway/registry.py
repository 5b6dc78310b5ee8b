"""The gateway's view of the agent registry: records, provisioning, rotation, revocation."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from mas import crypto, keys
from mas.envelope import AGENT_ID_PATTERN
from mas.errors import ConfigError

__all__ = [
    "AgentRecord",
    "ProvisionedAgent",
    "fetch_record",
    "provision_agent",
    "revoke_agent",
    "rotate_token",
    "validate_agent_id",
]

_ID_RE = re.compile(AGENT_ID_PATTERN)


def validate_agent_id(agent_id: str) -> None:
    """`ConfigError` unless `agent_id` is a valid, non-reserved agent id."""
    if not _ID_RE.match(agent_id) or agent_id.startswith("mas."):
        raise ConfigError(
            f"invalid agent id {agent_id!r}: letters, digits, '_', '.', '-' "
            "(at most 128, not starting with 'mas.')"
        )


@dataclass(frozen=True)
class AgentRecord:
    """The registry fields the gateway needs to authenticate and route."""

    agent_id: str
    status: str
    revoked: bool
    public_key: str
    token_hash: str
    provisioned_by: str
    raw: dict[str, str]
    """Every field as text; authorization reads the operator-set ``roles`` from here."""

    @classmethod
    def from_hash(cls, agent_id: str, raw: dict[bytes, bytes]) -> AgentRecord:
        """Decode an HGETALL result."""
        text = {k.decode(): v.decode("utf-8", "replace") for k, v in raw.items()}
        return cls(
            agent_id=agent_id,
            status=text.get("status", ""),
            revoked=bool(text.get("revoked_at")),
            public_key=text.get("public_key", ""),
            token_hash=text.get("token_hash", ""),
            provisioned_by=text.get("provisioned_by", ""),
            raw=text,
        )


async def fetch_record(client: aioredis.Redis, agent_id: str) -> AgentRecord | None:
    """The registry record of `agent_id`, or None when it was never registered."""
    raw = cast(dict[bytes, bytes], await client.hgetall(keys.agent_record(agent_id)))  # type: ignore[misc]
    if not raw:
        return None
    return AgentRecord.from_hash(agent_id, raw)


@dataclass(frozen=True)
class ProvisionedAgent:
    """What an operator hands to an agent: its credential file content."""

    agent_id: str
    token: str
    private_key_b64: str
    public_key_b64: str
    key_id: str

    def credential_json(self, gateway_keys: dict[str, str]) -> str:
        """The credential file an `Agent` loads."""
        return json.dumps(
            {
                "agent_id": self.agent_id,
                "token": self.token,
                "private_key": self.private_key_b64,
                "gateway_keys": gateway_keys,
            },
            indent=2,
        )


async def provision_agent(
    client: aioredis.Redis, agent_id: str, roles: list[str], *, replace_key: bool = False
) -> ProvisionedAgent:
    """Create a key pair and token for `agent_id` and record the public parts and roles."""
    validate_agent_id(agent_id)
    record_key = keys.agent_record(agent_id)
    existing = await client.hget(record_key, "public_key")  # type: ignore[misc]
    if existing and not replace_key:
        raise ConfigError(
            f"agent {agent_id!r} already has a key; use --replace-key to issue a new one"
        )
    private = crypto.generate_private_key()
    token = crypto.generate_token()
    public_key = crypto.public_key_to_b64(private)
    kid = crypto.key_id(private)
    mapping: dict[FieldT, EncodableT] = {
        "id": agent_id,
        "public_key": public_key,
        "key_id": kid,
        "token_hash": crypto.hash_token(token),
        "provisioned_by": "operator",
        "roles": json.dumps(sorted(set(roles))),
    }
    # A re-provisioned agent starts over: a previous revocation no longer applies.
    async with client.pipeline(transaction=True) as pipe:
        pipe.hset(record_key, mapping=mapping)
        pipe.hdel(record_key, "revoked_at")
        pipe.hsetnx(record_key, "status", "INACTIVE")
        pipe.hsetnx(record_key, "registered_at", repr(time.time()))
        pipe.hsetnx(record_key, "capabilities", "[]")
        pipe.hsetnx(record_key, "metadata", "{}")
        pipe.sadd(keys.ALL_AGENTS, agent_id)
        await pipe.execute()
    return ProvisionedAgent(
        agent_id=agent_id,
        token=token,
        private_key_b64=crypto.private_key_to_b64(private),
        public_key_b64=public_key,
        key_id=kid,
    )


async def rotate_token(client: aioredis.Redis, agent_id: str) -> str:
    """Issue a new token for a known agent; the old one stops working at once."""
    if not await client.exists(keys.agent_record(agent_id)):
        raise ConfigError(f"unknown agent {agent_id!r}")
    token = crypto.generate_token()
    await client.hset(keys.agent_record(agent_id), "token_hash", crypto.hash_token(token))  # type: ignore[misc]
    return token


async def revoke_agent(client: aioredis.Redis, agent_id: str) -> None:
    """Revoke an agent: its next submission is refused with 401.

    The token hash stays, so the gateway can still tell the real agent (and only it)
    why it is refused; the revocation mark alone decides.
    """
    if not await client.exists(keys.agent_record(agent_id)):
        raise ConfigError(f"unknown agent {agent_id!r}")
    async with client.pipeline(transaction=True) as pipe:
        pipe.hset(
            keys.agent_record(agent_id),
            mapping={"status": "REVOKED", "revoked_at": repr(time.time())},
        )
        pipe.delete(keys.agent_heartbeat(agent_id))
        await pipe.execute()
