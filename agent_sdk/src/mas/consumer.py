"""StreamConsumer: reads an agent's stream in its consumer group and keeps every claim honest.

It reads new entries in batches (never more than there are free handler slots),
keeps the claim of entries whose handler still runs (XCLAIM JUSTID resets their
idle time), and takes over entries left idle by a crashed instance (XAUTOCLAIM).
What happens to each entry is the job of the `process` callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError
from redis.typing import StreamIdT

from . import keys
from .errors import CredentialsError
from .options import AgentOptions
from .outage import Outage
from .redis_text import as_text

__all__ = ["Process", "StreamConsumer"]

logger = logging.getLogger(__name__)

Process = Callable[[str, dict[Any, Any], int], Awaitable[None]]
"""Handle one entry: (entry id, raw fields, delivery count)."""


class StreamConsumer:
    """One instance's consumer of ``agent.stream:{id}`` in group ``agents``."""

    def __init__(
        self,
        redis: aioredis.Redis,
        agent_id: str,
        consumer_name: str,
        options: AgentOptions,
        process: Process,
        keepalive: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._redis = redis
        self._stream = keys.agent_stream(agent_id)
        self._group = keys.AGENTS_GROUP
        self.name = consumer_name
        self._options = options
        self._process = process
        self._keepalive = keepalive
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._slot_free = asyncio.Event()
        self._slot_free.set()
        self._stopping = asyncio.Event()
        self._reader: aioredis.Redis | None = None
        self._reader_id: int | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._read_outage = Outage(f"reading {self._stream}", logger)

    async def ensure_group(self) -> None:
        """Check the inbox group exists (the operator creates it with the agent's credentials)."""
        try:
            await self._redis.xinfo_groups(self._stream)
        except ResponseError as exc:
            raise CredentialsError(
                f"the inbox of agent {self.name.rsplit('-', 1)[0]!r} has no consumer group: "
                "provision the agent with `mas agent provision` (it creates the group)"
            ) from exc

    async def start(self) -> None:
        """Start reading, keeping claims alive and reclaiming abandoned entries."""
        await self.ensure_group()
        self._reader = aioredis.Redis(
            connection_pool=self._redis.connection_pool, single_connection_client=True
        )
        self._reader_id = int(await self._reader.client_id())
        self._tasks = [
            asyncio.create_task(self._read_loop(), name=f"mas-read-{self.name}"),
            asyncio.create_task(self._reclaim_loop(), name=f"mas-reclaim-{self.name}"),
            asyncio.create_task(self._keepalive_loop(), name=f"mas-keepalive-{self.name}"),
        ]

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        """The long-running tasks: read, reclaim, keepalive."""
        return list(self._tasks)

    @property
    def inflight(self) -> int:
        """Entries this instance holds: being handled or waiting for a handler."""
        return len(self._inflight)

    async def stop(self, timeout: float) -> None:
        """Stop reading, let running handlers finish for up to `timeout`, then release the rest."""
        try:
            await self._stop(timeout)
        finally:
            if self._reader is not None:
                await self._reader.aclose()
                self._reader = None

    async def _stop(self, timeout: float) -> None:
        self._stopping.set()
        self._slot_free.set()
        if self._reader_id is not None:
            with contextlib.suppress(Exception):
                await self._redis.client_unblock(self._reader_id)
        read, reclaim, keepalive = self._tasks or (None, None, None)
        for task in (read, reclaim):
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
        running = list(self._inflight.values())
        if running:
            _, pending = await asyncio.wait(running, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                logger.warning(
                    "%d handler(s) still running at stop; their messages stay pending and "
                    "will be redelivered",
                    len(pending),
                )
                await asyncio.gather(*pending, return_exceptions=True)
        if keepalive is not None:
            keepalive.cancel()
            await asyncio.gather(keepalive, return_exceptions=True)
        await self._forget_consumer()

    async def _forget_consumer(self) -> None:
        """Delete this consumer from the group if it holds no pending entries."""
        with contextlib.suppress(Exception):
            mine = await self._redis.xpending_range(
                self._stream, self._group, "-", "+", 1, consumername=self.name
            )
            if not mine:
                await self._redis.xgroup_delconsumer(self._stream, self._group, self.name)

    def _spawn(self, entry_id: str, fields: dict[Any, Any], deliveries: int) -> None:
        if entry_id in self._inflight:
            return
        task = asyncio.create_task(self._run(entry_id, fields, deliveries))
        self._inflight[entry_id] = task
        if len(self._inflight) >= self._options.concurrency:
            self._slot_free.clear()

    async def _run(self, entry_id: str, fields: dict[Any, Any], deliveries: int) -> None:
        try:
            await self._process(entry_id, fields, deliveries)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception(
                "processing entry %s of %s failed; it stays pending", entry_id, self._stream
            )
        finally:
            self._inflight.pop(entry_id, None)
            if len(self._inflight) < self._options.concurrency:
                self._slot_free.set()

    async def _read_loop(self) -> None:
        assert self._reader is not None
        while not self._stopping.is_set():
            await self._slot_free.wait()
            if self._stopping.is_set():
                return
            count = min(self._options.batch_size, self._options.concurrency - self.inflight)
            try:
                response = await self._reader.xreadgroup(
                    self._group,
                    self.name,
                    {self._stream: ">"},
                    count=max(count, 1),
                    block=self._options.block_ms,
                )
            except (RedisError, OSError) as exc:
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                    logger.error("the inbox group of %s is gone; provision the agent", self._stream)
                await self._pause(self._read_outage, exc)
                continue
            self._read_outage.recovered()
            for entry_id, fields in _entries(response):
                self._spawn(entry_id, fields, 1)

    async def _pause(self, outage: Outage, exc: BaseException) -> None:
        """Log the outage (once) and wait its backoff delay, unless stopping."""
        outage.note(exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), outage.backoff.step())

    async def _every(self, interval: float) -> bool:
        """Wait `interval` unless stopping; True to go on."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), interval)
        return not self._stopping.is_set()

    async def _reclaim_loop(self) -> None:
        interval = max(self._options.claim_idle / 2, 0.01)
        outage = Outage(f"reclaiming entries of {self._stream}", logger)
        while not self._stopping.is_set():
            try:
                await self.reclaim()
            except (RedisError, OSError) as exc:
                await self._pause(outage, exc)
                continue
            outage.recovered()
            if not await self._every(interval):
                return

    async def reclaim(self) -> int:
        """Take over entries idle longer than `claim_idle` (any consumer); return how many."""
        free = self._options.concurrency - self.inflight
        if free <= 0:
            return 0
        result = await self._redis.xautoclaim(
            self._stream,
            self._group,
            self.name,
            min_idle_time=int(self._options.claim_idle * 1000),
            start_id="0-0",
            count=free,
        )
        claimed = [
            (as_text(entry_id), fields)
            for entry_id, fields in result[1]
            if fields is not None and as_text(entry_id) not in self._inflight
        ]
        if not claimed:
            return 0
        pipe = self._redis.pipeline(transaction=False)
        for entry_id, _ in claimed:
            pipe.xpending_range(self._stream, self._group, entry_id, entry_id, 1)
        counts = await pipe.execute()
        for (entry_id, fields), info in zip(claimed, counts, strict=True):
            deliveries = int(info[0]["times_delivered"]) if info else 1
            self._spawn(entry_id, fields, deliveries)
        return len(claimed)

    async def _keepalive_loop(self) -> None:
        interval = max(self._options.claim_idle / 3, 0.01)
        outage = Outage(f"keeping claims on {self._stream} alive", logger)
        while True:
            await asyncio.sleep(min(interval, outage.backoff.step()) if outage.active else interval)
            ids = list(self._inflight)
            if not ids:
                continue
            try:
                if self._keepalive is not None:
                    await self._keepalive()
                await self._redis.xclaim(
                    self._stream,
                    self._group,
                    self.name,
                    0,
                    cast("list[StreamIdT]", ids),
                    justid=True,
                )
            except (RedisError, OSError) as exc:
                outage.note(exc)
                continue
            outage.recovered()

    async def is_idle(self) -> bool:
        """True when nothing is in flight here, nothing is pending and nothing is unread."""
        if self._inflight:
            return False
        pipe = self._redis.pipeline(transaction=False)
        pipe.xpending(self._stream, self._group)
        pipe.xinfo_groups(self._stream)
        pipe.xrevrange(self._stream, count=1)
        pending, groups, last = await pipe.execute()
        if int(pending["pending"]):
            return False
        if not last:
            return True
        last_id = as_text(last[0][0])
        for group in groups:
            if as_text(group["name"]) == self._group:
                return _stream_id(as_text(group["last-delivered-id"])) >= _stream_id(last_id)
        return False

    async def wait_idle(self, timeout: float) -> None:
        """Return once idle; `TimeoutError` if that does not happen within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not await self.is_idle():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self._stream} still has work after {timeout} s")
            await asyncio.sleep(0.01)


def _entries(response: Any) -> list[tuple[str, dict[Any, Any]]]:
    """(entry id, fields) pairs of an XREADGROUP reply, RESP2 list or RESP3 map."""
    if not response:
        return []
    groups = response.values() if isinstance(response, dict) else (r[1] for r in response)
    out: list[tuple[str, dict[Any, Any]]] = []
    for entries in groups:
        for entry in entries:
            entry_id, fields = entry[0], entry[1]
            if fields is not None:
                out.append((as_text(entry_id), fields))
    return out


def _stream_id(text: str) -> tuple[int, int]:
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)
