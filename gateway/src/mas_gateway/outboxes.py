"""Outboxes: every agent's submission stream, read by all gateway processes in one group.

Each agent may only append to its own outbox (``agent.outbox:{shard:N}:id``, in
the slot of its ingress shard), so an entry's
stream names who wrote it and no agent can trim, read or delete what another
submitted. The gateway reads every provisioned agent's outbox with one blocking
``XREADGROUP`` in the group ``gateway`` (the SDK's `mas.consumer.StreamConsumer`
over `Outboxes.streams`); several gateway processes share the work through the
group, and entries a crashed process left pending are taken over after
``claim_idle_ms``. The list of outboxes follows ``mas.agents``, which only the
operator writes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis

from mas import keys
from mas.redis_text import as_text

__all__ = ["Outboxes", "Submission"]

log = logging.getLogger(__name__)

REFRESH_S = 0.25
"""How often the list of outboxes follows ``mas.agents`` while reading."""


def owner_of(stream: str) -> str:
    """The agent id an outbox key belongs to (``agent.outbox:{shard:N}:<id>``)."""
    _, _, agent_id = stream.removeprefix(keys.OUTBOX_PREFIX).partition("}:")
    return agent_id


@dataclass(frozen=True)
class Submission:
    """One outbox entry: whose outbox, its entry id, its fields."""

    agent_id: str
    entry_id: str
    fields: dict[str, bytes]


class Outboxes:
    """The outboxes of every provisioned agent, as one gateway consumer sees them."""

    def __init__(self, client: aioredis.Redis, consumer: str) -> None:
        self._client = client
        self.consumer = consumer
        self._agents: list[str] = []
        self._streams: list[str] = []
        self._next_refresh = 0.0

    @property
    def agents(self) -> list[str]:
        """Agent ids whose outboxes are read, sorted."""
        return list(self._agents)

    async def refresh(self) -> None:
        """Follow ``mas.agents``: new agents' outboxes get the group (cheap if nothing changed)."""
        size = int(await self._client.scard(keys.ALL_AGENTS))  # type: ignore[misc]
        if size == len(self._agents):
            return
        members = await self._client.smembers(keys.ALL_AGENTS)  # type: ignore[misc]
        ids = sorted(as_text(m) for m in members)
        new = sorted(set(ids) - set(self._agents))
        await self._ensure_groups(new)
        self._agents = ids
        self._streams = [keys.agent_outbox(a) for a in ids]

    async def _ensure_groups(self, agent_ids: Sequence[str]) -> None:
        if not agent_ids:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for agent_id in agent_ids:
                pipe.xgroup_create(
                    keys.agent_outbox(agent_id), keys.GATEWAY_GROUP, id="0", mkstream=True
                )
            results = await pipe.execute(raise_on_error=False)
        for agent_id, result in zip(agent_ids, results, strict=True):
            if isinstance(result, Exception) and "BUSYGROUP" not in str(result):
                raise result
            log.debug("reading the outbox of %s", agent_id)

    def streams(self) -> list[str]:
        """The outbox keys to read, in agent id order."""
        return self._streams

    async def follow(self) -> None:
        """`refresh`, at most every `REFRESH_S` (new agents are read within it plus a read)."""
        now = time.monotonic()
        if now >= self._next_refresh:
            self._next_refresh = now + REFRESH_S
            await self.refresh()

    async def restore_group(self, stream: str) -> None:
        """An outbox lost its consumer group (a read answered NOGROUP): create it again.

        `stream` is the outbox the reply named; when it named none of ours, every group
        is ensured (creating an existing one is a no-op)."""
        log.warning("an outbox lost its consumer group; creating it again")
        lost = [owner_of(stream)] if stream in self._streams else self._agents
        await self._ensure_groups(lost)

    async def keep_claims(self, batch: Sequence[Submission]) -> set[tuple[str, str]]:
        """Reset the idle time of entries being processed, so no peer takes them over.

        Returns (agent id, entry id) of entries their owner deleted meanwhile: Redis
        drops those claims, and the commit must not mistake them for a takeover.
        """
        by_stream: dict[str, list[str]] = {}
        for sub in batch:
            by_stream.setdefault(sub.agent_id, []).append(sub.entry_id)
        async with self._client.pipeline(transaction=False) as pipe:
            for agent_id, ids in by_stream.items():
                pipe.xclaim(
                    keys.agent_outbox(agent_id),
                    keys.GATEWAY_GROUP,
                    self.consumer,
                    0,
                    message_ids=cast(list[Any], ids),
                    justid=True,
                )
            replies = await pipe.execute()
        gone: set[tuple[str, str]] = set()
        for (agent_id, ids), claimed in zip(by_stream.items(), replies, strict=True):
            kept = {as_text(entry_id) for entry_id in claimed}
            gone.update((agent_id, entry_id) for entry_id in ids if entry_id not in kept)
        return gone

    async def pending_count(self) -> int:
        """Entries read by any gateway consumer and not yet acknowledged, over all outboxes."""
        if not self._agents:
            return 0
        async with self._client.pipeline(transaction=False) as pipe:
            for agent_id in self._agents:
                pipe.xpending(keys.agent_outbox(agent_id), keys.GATEWAY_GROUP)
            replies = await pipe.execute(raise_on_error=False)
        return sum(int(r["pending"]) for r in replies if isinstance(r, dict))

    async def idle(self) -> bool:
        """True when no outbox has unread or pending entries."""
        await self.refresh()
        if not self._agents:
            return True
        async with self._client.pipeline(transaction=False) as pipe:
            for agent_id in self._agents:
                pipe.xinfo_groups(keys.agent_outbox(agent_id))
                pipe.xrevrange(keys.agent_outbox(agent_id), count=1)
            replies = await pipe.execute(raise_on_error=False)
        for groups, newest in zip(replies[::2], replies[1::2], strict=True):
            for reply in (groups, newest):
                if isinstance(reply, Exception) and "no such key" not in str(reply).lower():
                    raise reply  # e.g. a permission problem: never report idle on an error
            if isinstance(groups, Exception) or isinstance(newest, Exception):
                continue  # the outbox does not exist (yet): nothing in it
            last = _stream_id(newest[0][0]) if newest else (0, 0)  # entries that still exist
            for group in groups:
                if as_text(group.get("name", b"")) != keys.GATEWAY_GROUP:
                    continue
                if (group.get("pending") or 0) > 0:
                    return False
                if _stream_id(group.get("last-delivered-id")) < last:
                    return False
        return True


def _stream_id(value: Any) -> tuple[int, int]:
    ms, _, seq = as_text(value or b"0-0").partition("-")
    return int(ms), int(seq or 0)
