"""StreamConsumer: reads streams in a consumer group and keeps every claim honest.

One mechanism for every consumer of MAS streams: it reads new entries of one or
more streams in batches (never more than there are free slots), keeps the claim
of entries still being processed (XCLAIM JUSTID resets their idle time), and
takes over entries left idle by a crashed consumer (XAUTOCLAIM). What happens to
the entries of a batch is the job of the `process` callback; an entry stays in
flight until the callback marks it finished or returns. COUNT applies per stream,
so the batch is shared among the streams that had entries in the previous read;
when more streams than that have entries at once, a read can return more entries
than there are free slots (they are claimed already, so they are processed too).

Every loop survives every Redis error the same way (`mas.outage`: logged once
when an outage starts and once when it ends, capped backoff). Stopping never
needs a command on the server: the reader has its own connection, and a read
still blocked at stop is cancelled, which closes that connection. Entries Redis
handed to that read stay pending for this consumer and are taken over after
`claim_idle` like those of a crashed one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError
from redis.typing import StreamIdT

from .envelope import decode_fields
from .logsafe import log_failure
from .outage import Outage
from .redis_connect import is_cluster
from .redis_text import as_text

__all__ = ["Batch", "ConsumerSettings", "Entry", "Process", "StreamConsumer"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Entry:
    """One stream entry handed to `process`."""

    stream: str
    entry_id: str
    fields: dict[str, bytes]
    deliveries: int
    """1 when read new; Redis's delivery count when taken over from another consumer."""


class Batch:
    """Entries read together; each stays in flight (its claim kept) until finished."""

    __slots__ = ("_on_finished", "entries")

    def __init__(
        self, entries: Sequence[Entry], on_finished: Callable[[Entry], None] | None = None
    ) -> None:
        self.entries = tuple(entries)
        self._on_finished = on_finished

    def __len__(self) -> int:
        return len(self.entries)

    def finished(self, entry: Entry) -> None:
        """`entry` needs its claim no longer (acknowledged, or left for redelivery)."""
        if self._on_finished is not None:
            self._on_finished(entry)


Process = Callable[[Batch], Awaitable[None]]
"""Process a batch; entries not marked finished are finished when it returns or raises."""

MissingGroup = Callable[[str], Awaitable[None]]
"""Told the stream whose consumer group is gone (a read answered NOGROUP)."""


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    """How much a consumer reads and holds, and when an idle entry may be taken over."""

    batch_size: int
    max_inflight: int
    block_ms: int
    claim_idle_s: float
    keep_claims: bool = True
    """Renew the claims of entries in flight; off when `process` renews them itself."""
    one_batch_at_a_time: bool = False
    """Read again only once the previous batch was processed (batches stay full)."""


def _key(entry: Entry) -> tuple[str, str]:
    return entry.stream, entry.entry_id


class StreamConsumer:
    """One consumer of the streams `streams()` names, in consumer group `group`."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        group: str,
        consumer: str,
        streams: Callable[[], Sequence[str]],
        settings: ConsumerSettings,
        process: Process,
        keepalive: Callable[[], Awaitable[None]] | None = None,
        missing_group: MissingGroup | None = None,
        before_read: Callable[[], Awaitable[None]] | None = None,
        on_progress: Callable[[], None] | None = None,
        label: str | None = None,
    ) -> None:
        self._redis = redis
        self._group = group
        self.name = consumer
        self._streams = streams
        self._settings = settings
        self._process = process
        self._keepalive = keepalive
        self._missing_group = missing_group
        self._before_read = before_read
        self._on_progress = on_progress
        self._label = label or ", ".join(streams())
        self._inflight: dict[tuple[str, str], Entry] = {}
        self._batches: set[asyncio.Task[None]] = set()
        self._slot_free = asyncio.Event()
        self._slot_free.set()
        self._stopping = asyncio.Event()
        self._released = asyncio.Event()
        self._reader: aioredis.Redis | None = None
        self._blocked = False
        self._busy = 1
        self._tasks: list[asyncio.Task[None]] = []
        self._read_outage = Outage(f"reading {self._label}", logger)

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Start reading, keeping claims alive and taking over abandoned entries."""
        self._stopping.clear()
        self._released.clear()
        self._reader = _blocking_reader(self._redis)
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
        """Entries this consumer holds: being processed or waiting to be."""
        return len(self._inflight)

    async def stop(self, timeout: float) -> None:
        """Stop reading, let batches in progress finish for `timeout` s, then release the rest."""
        try:
            await self._stop(timeout)
        finally:
            if self._reader is not None and self._reader is not self._redis:
                await self._reader.aclose()
            self._reader = None

    async def _stop(self, timeout: float) -> None:
        self._stopping.set()
        self._slot_free.set()
        read, reclaim, keepalive = self._tasks or (None, None, None)
        if read is not None and self._blocked:
            read.cancel()  # a blocked read ends now; its connection is closed, not reused
        for task in (read, reclaim):
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
        running = list(self._batches)
        if running:
            _, pending = await asyncio.wait(running, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                logger.warning(
                    "%d entr(ies) still being processed at stop; they stay pending and "
                    "will be redelivered",
                    len(self._inflight),
                )
                await asyncio.gather(*pending, return_exceptions=True)
        self._released.set()
        if keepalive is not None:
            await asyncio.gather(keepalive, return_exceptions=True)
        self._tasks = []
        await self.forget_consumer()

    async def forget_consumer(self) -> None:
        """Leave each stream's group where this consumer holds no pending entry."""
        streams = list(self._streams())
        with contextlib.suppress(RedisError, OSError):
            pipe = self._redis.pipeline(transaction=False)
            for stream in streams:
                pipe.xpending_range(stream, self._group, "-", "+", 1, consumername=self.name)
            held = await pipe.execute(raise_on_error=False)
            idle = [s for s, mine in zip(streams, held, strict=True) if mine == []]
            if idle:
                pipe = self._redis.pipeline(transaction=False)
                for stream in idle:
                    pipe.xgroup_delconsumer(stream, self._group, self.name)
                await pipe.execute(raise_on_error=False)

    # --- batches ---------------------------------------------------------------------

    def _free(self) -> int:
        return self._settings.max_inflight - len(self._inflight)

    def _spawn(self, entries: Iterable[Entry]) -> asyncio.Task[None] | None:
        fresh = [e for e in entries if _key(e) not in self._inflight]
        if not fresh:
            return None
        for entry in fresh:
            self._inflight[_key(entry)] = entry
        if self._free() <= 0:
            self._slot_free.clear()
        task = asyncio.create_task(self._run(Batch(fresh, self._finish)))
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)
        return task

    def _finish(self, entry: Entry) -> None:
        if self._inflight.pop(_key(entry), None) is not None and self._free() > 0:
            self._slot_free.set()

    async def _run(self, batch: Batch) -> None:
        try:
            await self._process(batch)
        except asyncio.CancelledError:
            raise
        except Exception:
            log_failure(
                logger, "processing %d entr(ies) of %s failed; they stay pending", len(batch),
                self._label,
            )  # fmt: skip
        finally:
            for entry in batch.entries:
                self._finish(entry)

    # --- loops -----------------------------------------------------------------------

    async def _read_loop(self) -> None:
        assert self._reader is not None
        while not self._stopping.is_set():
            await self._slot_free.wait()
            if self._stopping.is_set():
                return
            try:
                entries = await self._read(self._reader)
            except (RedisError, OSError) as exc:
                self._blocked = False
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                    await self._nogroup(str(exc))
                await self._pause(self._read_outage, exc)
                continue
            self._read_outage.recovered()
            task = self._spawn(entries)
            if task is not None and self._settings.one_batch_at_a_time:
                await self._until_done_or_stopping(task)
            if self._on_progress is not None:
                self._on_progress()

    async def _until_done_or_stopping(self, task: asyncio.Task[None]) -> None:
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()

    async def _read(self, reader: aioredis.Redis) -> list[Entry]:
        """New entries of the streams, waiting up to `block_ms` for the first."""
        if self._before_read is not None:
            await self._before_read()
        streams = self._streams()
        if self._stopping.is_set():
            return []
        if not streams:
            await self._every(self._settings.block_ms / 1000)
            return []
        limit = max(min(self._settings.batch_size, self._free()), 1)
        self._blocked = True
        response = await reader.xreadgroup(
            self._group,
            self.name,
            cast("dict[Any, Any]", dict.fromkeys(streams, ">")),
            count=max(limit // self._busy, 1),
            block=self._settings.block_ms,
        )
        self._blocked = False
        entries = _entries(response)
        # COUNT is per stream: share the next read among the streams that had entries.
        self._busy = max(len({e.stream for e in entries}), 1)
        return entries

    async def _nogroup(self, error: str) -> None:
        stream = next((s for s in self._streams() if f"'{s}'" in error), self._label)
        if self._missing_group is None:
            logger.error("the consumer group %s of %s is gone", self._group, stream)
            return
        with contextlib.suppress(RedisError, OSError):
            await self._missing_group(stream)

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
        interval = max(self._settings.claim_idle_s / 2, 0.01)
        outage = Outage(f"reclaiming entries of {self._label}", logger)
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
        free = self._free()
        streams = list(self._streams())
        if free <= 0 or not streams:
            return 0
        pipe = self._redis.pipeline(transaction=False)
        for stream in streams:
            pipe.xautoclaim(
                stream,
                self._group,
                self.name,
                min_idle_time=int(self._settings.claim_idle_s * 1000),
                start_id="0-0",
                count=free,
            )
        replies = await pipe.execute()
        await self._drop_deleted(streams, replies)
        claimed = [
            (stream, as_text(entry_id), fields)
            for stream, reply in zip(streams, replies, strict=True)
            for entry_id, fields in reply[1]
            if fields is not None and (stream, as_text(entry_id)) not in self._inflight
        ]
        if not claimed:
            return 0
        pipe = self._redis.pipeline(transaction=False)
        for stream, entry_id, _ in claimed:
            pipe.xpending_range(stream, self._group, entry_id, entry_id, 1)
        counts = await pipe.execute()
        self._spawn(
            Entry(stream, entry_id, decode_fields(fields), _times_delivered(info))
            for (stream, entry_id, fields), info in zip(claimed, counts, strict=True)
        )
        return len(claimed)

    async def _drop_deleted(self, streams: Sequence[str], replies: Sequence[Any]) -> None:
        """Acknowledge pending entries that no longer exist: nothing is left to process."""
        for stream, reply in zip(streams, replies, strict=True):
            deleted = list(reply[2]) if len(reply) > 2 and reply[2] else []
            if deleted:
                logger.warning(
                    "%d pending entr(ies) of %s were deleted before they were processed",
                    len(deleted),
                    stream,
                )
                await self._redis.xack(stream, self._group, *deleted)

    async def _keepalive_loop(self) -> None:
        if not self._settings.keep_claims:
            await self._released.wait()
            return
        interval = max(self._settings.claim_idle_s / 3, 0.01)
        outage = Outage(f"keeping claims on {self._label} alive", logger)
        while True:
            wait = min(interval, outage.backoff.step()) if outage.active else interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), wait)
            if self._released.is_set():
                return
            if not self._inflight:
                continue
            try:
                await self.keep_claims(list(self._inflight.values()))
            except (RedisError, OSError) as exc:
                outage.note(exc)
                continue
            outage.recovered()

    async def keep_claims(self, entries: Sequence[Entry]) -> None:
        """Reset the idle time of `entries` (one command per stream) and run the keepalive hook."""
        if self._keepalive is not None:
            await self._keepalive()
        by_stream: dict[str, list[str]] = {}
        for entry in entries:
            by_stream.setdefault(entry.stream, []).append(entry.entry_id)
        pipe = self._redis.pipeline(transaction=False)
        for stream, ids in by_stream.items():
            pipe.xclaim(
                stream, self._group, self.name, 0, cast("list[StreamIdT]", ids), justid=True
            )
        await pipe.execute()

    # --- idleness (tests, scripts) -----------------------------------------------------

    async def is_idle(self) -> bool:
        """True when nothing is in flight here, nothing is pending and nothing is unread."""
        if self._inflight:
            return False
        for stream in self._streams():
            pipe = self._redis.pipeline(transaction=False)
            pipe.xpending(stream, self._group)
            pipe.xinfo_groups(stream)
            pipe.xrevrange(stream, count=1)
            pending, groups, last = await pipe.execute()
            if int(pending["pending"]):
                return False
            if not last:
                continue
            last_id = _stream_id(as_text(last[0][0]))
            delivered = next(
                (
                    _stream_id(as_text(g["last-delivered-id"]))
                    for g in groups
                    if as_text(g["name"]) == self._group
                ),
                None,
            )
            if delivered is None or delivered < last_id:
                return False
        return True

    async def wait_idle(self, timeout: float) -> None:
        """Return once idle; `TimeoutError` if that does not happen within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not await self.is_idle():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self._label} still has work after {timeout} s")
            await asyncio.sleep(0.01)


def _times_delivered(info: Any) -> int:
    return int(info[0]["times_delivered"]) if info else 1


def _entries(response: Any) -> list[Entry]:
    """The entries of an XREADGROUP reply, RESP2 list or RESP3 map."""
    if not response:
        return []
    groups = response.items() if isinstance(response, dict) else ((r[0], r[1]) for r in response)
    out: list[Entry] = []
    for stream, entries in groups:
        name = as_text(stream)
        for entry_id, fields in entries:
            if fields is not None:
                out.append(Entry(name, as_text(entry_id), decode_fields(fields), 1))
    return out


def _stream_id(text: str) -> tuple[int, int]:
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def _blocking_reader(client: aioredis.Redis) -> aioredis.Redis:
    """A client whose blocking reads hold a connection of their own.

    On one node: a single-connection client over the shared pool, so a blocked read
    never waits behind, or holds up, other commands. A cluster client already takes a
    connection of the slot's node per command, so it is its own reader.
    """
    if is_cluster(client):
        return client
    return aioredis.Redis(connection_pool=client.connection_pool, single_connection_client=True)
