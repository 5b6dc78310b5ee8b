"""The gateway's view of the agent records: each agent's identity and trust record, read only.

The gateway trusts nothing an agent can write: the public key comes from the
operator's identity hash, the token hash, roles, provisioning and revocation from
the operator's trust record (`mas.records`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from mas import keys
from mas.records import Identity, TrustRecord

__all__ = ["AgentRecord", "fetch_records", "queue_records"]


@dataclass(frozen=True)
class AgentRecord:
    """What the gateway needs to authenticate an agent or route to it."""

    agent_id: str
    identity: Identity | None
    trust: TrustRecord

    @property
    def public_key(self) -> str:
        """The registered public key (empty when none is registered)."""
        return self.identity.public_key if self.identity is not None else ""


async def fetch_records(client: aioredis.Redis, agent_ids: Iterable[str]) -> dict[str, AgentRecord]:
    """Records of the provisioned agents among `agent_ids`, in one round trip."""
    async with client.pipeline(transaction=False) as pipe:
        decode = queue_records(pipe, agent_ids)
        return decode(await pipe.execute())


def queue_records(
    pipe: Pipeline, agent_ids: Iterable[str]
) -> Callable[[list[Any]], dict[str, AgentRecord]]:
    """Queue the reads of the agents' records on `pipe`; returns the decoder of the replies."""
    ids = sorted(set(agent_ids))
    for agent_id in ids:
        pipe.hgetall(keys.agent_trust(agent_id))
        pipe.hgetall(keys.agent_identity(agent_id))

    def decode(replies: list[Any]) -> dict[str, AgentRecord]:
        out: dict[str, AgentRecord] = {}
        for i, agent_id in enumerate(ids):
            trust = TrustRecord.from_hash(replies[2 * i])
            if trust is not None:
                out[agent_id] = AgentRecord(agent_id, Identity.from_hash(replies[2 * i + 1]), trust)
        return out

    return decode
