"""The agent's inbox: its stream ``agent.stream:{id}``, consumed in group ``agents``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from . import keys
from .consumer import ConsumerSettings, Process, StreamConsumer
from .errors import CredentialsError
from .options import AgentOptions

__all__ = ["check_inbox_group", "inbox_consumer"]


async def check_inbox_group(redis: aioredis.Redis, agent_id: str) -> None:
    """Check the inbox group exists (the operator creates it with the agent's credentials)."""
    try:
        await redis.xinfo_groups(keys.agent_stream(agent_id))
    except ResponseError as exc:
        raise CredentialsError(
            f"the inbox of agent {agent_id!r} has no consumer group: "
            "provision the agent with `mas agent provision` (it creates the group)"
        ) from exc


def inbox_consumer(
    redis: aioredis.Redis,
    agent_id: str,
    consumer_name: str,
    options: AgentOptions,
    process: Process,
    keepalive: Callable[[], Awaitable[None]] | None = None,
) -> StreamConsumer:
    """The consumer of one instance of `agent_id` (handlers at once: `concurrency`)."""
    stream = keys.agent_stream(agent_id)
    streams = (stream,)
    return StreamConsumer(
        redis,
        group=keys.AGENTS_GROUP,
        consumer=consumer_name,
        streams=lambda: streams,
        settings=ConsumerSettings(
            batch_size=options.batch_size,
            max_inflight=options.concurrency,
            block_ms=options.block_ms,
            claim_idle_s=options.claim_idle,
        ),
        process=process,
        keepalive=keepalive,
        label=stream,
    )
