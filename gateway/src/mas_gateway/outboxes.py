"""Outboxes: every agent's submission stream, read by all gateway processes in one group.

Each agent may only append to its own outbox (``agent.outbox:{id}``), so an entry's
stream names who wrote it and no agent can trim, read or delete what another
submitted. The gateway reads every provisioned agent's outbox with one blocking
``XREADGROUP`` in the group ``gateway``; several gateway processes share the work
through the group, and entries a crashed process left pending are taken over after
``claim_idle_ms``. The list of outboxes follows ``mas.agents``, which only the
operator writes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from mas import keys
from mas.envelope import decode_fields
from mas.redis_text import as_text

from .redis_types import StreamEntries

__all__ = ["Outboxes", "Submission"]

log = logging.getLogger(__name__)

_PREFIX, _SUFFIX = keys.agent_outbox("*").split("*")

REFRESH_S = 0.25
"""How often the list of outboxes follows ``mas.agents`` while reading."""


def owner_of(stream: str) -> str:
    """The agent id an outbox key belongs to."""
    return stream[len(_PREFIX) : len(stream) - len(_SUFFIX)]


@dataclass(frozen=True)
class Submission:
    """One outbox entry: whose outbox, its entry id, its fields."""

    agent_id: str
    entry_id: str
    fields: dict[str, bytes]

    @property
    def stream(self) -> str:
        """The outbox it came from."""
        return keys.agent_outbox(self.agent_id)


class Outboxes:
    """The outboxes of every provisioned agent, as one gateway consumer sees them."""

    def __init__(
        self, client: aioredis.Redis, consumer: str, *, batch_size: int, claim_idle_ms: int
    ) -> None:
        self._client = client
        self.consumer = consumer
        self._batch = batch_size
        self._idle_ms = claim_idle_ms
        self._agents: list[str] = []
        self._count = batch_size
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

    async def read(self, block_ms: int) -> list[Submission]:
        """New entries of any outbox, waiting up to `block_ms` for the first."""
        now = time.monotonic()
        if now >= self._next_refresh:  # new agents are read within REFRESH_S (+ block_ms)
            self._next_refresh = now + REFRESH_S
            await self.refresh()
        if not self._agents:
            # Nothing to block on in Redis: wait as XREADGROUP would have, or the consume
            # loop never yields and starves every other task of the process.
            await asyncio.sleep(block_ms / 1000.0)
            return []
        streams: dict[Any, Any] = {keys.agent_outbox(a): ">" for a in self._agents}
        try:
            reply = await self._client.xreadgroup(
                keys.GATEWAY_GROUP, self.consumer, streams, count=self._count, block=block_ms
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            log.warning("an outbox lost its consumer group; creating it again")
            await self._ensure_groups(self._agents)
            return []
        out = _submissions(reply)
        # COUNT is per stream: share one batch among the outboxes that had entries.
        busy = len({s.agent_id for s in out})
        self._count = max(1, self._batch // max(busy, 1))
        return out

    async def reclaim(self) -> list[Submission]:
        """Take over entries another consumer left pending longer than ``claim_idle_ms``."""
        if not self._agents:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for agent_id in self._agents:
                pipe.xautoclaim(
                    keys.agent_outbox(agent_id),
                    keys.GATEWAY_GROUP,
                    self.consumer,
                    min_idle_time=self._idle_ms,
                    start_id="0-0",
                    count=self._batch,
                )
            replies = await pipe.execute(raise_on_error=False)
        taken: list[Submission] = []
        gone: dict[str, list[Any]] = {}
        for agent_id, reply in zip(self._agents, replies, strict=True):
            if isinstance(reply, Exception):
                log.warning("taking over entries of %s failed: %s", agent_id, reply)
                continue
            parts = cast(list[Any], reply)
            for entry_id, fields in cast(StreamEntries, parts[1]):
                if fields:
                    taken.append(Submission(agent_id, as_text(entry_id), decode_fields(fields)))
            if len(parts) > 2 and parts[2]:
                gone[agent_id] = list(parts[2])
        for agent_id, ids in gone.items():  # deleted while pending: nothing left to process
            log.warning(
                "%d entries of %s were deleted by their sender while another gateway held "
                "them; nothing is left to decide",
                len(ids),
                agent_id,
            )
            await self._client.xack(keys.agent_outbox(agent_id), keys.GATEWAY_GROUP, *ids)
        return taken

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

    async def forget_consumer(self) -> None:
        """On a clean stop: leave each outbox's group if this consumer holds no pending entry.

        Entries still pending stay with the consumer, so a peer takes them over after
        ``claim_idle_ms``; a Redis error leaves the consumer in place (logged).
        """
        if not self._agents:
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for agent_id in self._agents:
                    pipe.xpending_range(
                        keys.agent_outbox(agent_id), keys.GATEWAY_GROUP, "-", "+", 1,
                        consumername=self.consumer,
                    )  # fmt: skip
                held = await pipe.execute(raise_on_error=False)
            idle = [
                agent_id
                for agent_id, mine in zip(self._agents, held, strict=True)
                if not isinstance(mine, Exception) and not mine
            ]
            async with self._client.pipeline(transaction=False) as pipe:
                for agent_id in idle:
                    pipe.xgroup_delconsumer(
                        keys.agent_outbox(agent_id), keys.GATEWAY_GROUP, self.consumer
                    )
                await pipe.execute(raise_on_error=False)
        except RedisError as exc:
            log.warning("could not leave the outboxes' consumer group: %s", exc)
            return
        kept = len(self._agents) - len(idle)
        if kept:
            log.info("consumer %s keeps pending entries in %d outbox(es)", self.consumer, kept)

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


def _submissions(reply: Any) -> list[Submission]:
    """Submissions of an XREADGROUP reply (RESP2 list or RESP3 map)."""
    if not reply:
        return []
    groups = reply.items() if isinstance(reply, dict) else ((r[0], r[1]) for r in reply)
    out: list[Submission] = []
    for stream, entries in groups:
        agent_id = owner_of(as_text(stream))
        for entry_id, fields in entries:
            if fields:
                out.append(Submission(agent_id, as_text(entry_id), decode_fields(fields)))
    return out
