"""Processes of the gateway benchmark: ``python -m mas_gateway.benchmarks.worker SPEC_FILE``.

One process hosts many agents. Roles (the spec's ``role``): ``send`` / ``receive``
run MAS agents (the SDK's `Agent` and `Agent.send`) through the gateway;
``raw-send`` / ``raw-receive`` move the same payloads over plain Redis streams
(the baseline). The protocol with the benchmark is one JSON object per line on
stdout (``ready``, then ``sent`` or ``result``) and one word per line on stdin
(``go`` starts the measured work, ``stop`` lets a sender stop its agents).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import redis.asyncio as aioredis

from mas import Agent, AgentMessage

from ..redis_types import read_reply
from .procstats import own_usage
from .traffic import BENCH_TYPE, Traffic, message_id, payload_text

__all__ = ["RAW_GROUP", "Pair", "WorkerSpec", "raw_stream"]

RAW_GROUP = "bench"
STARTS_AT_ONCE = 32
"""Agents started or stopped concurrently (bounds the burst of Redis connections)."""
REDIS_TIMEOUT_S = 10.0
"""Socket timeout of the baseline's clients; its blocking reads last `BLOCK_MS`, well below."""
BLOCK_MS = 1000
RAW_CONNECTIONS = 64
"""Connections a baseline process shares among its senders (the gateway path: one each)."""

T = TypeVar("T")


def raw_stream(receiver: str) -> str:
    """The baseline's plain stream for one receiving agent."""
    return f"bench.raw.{receiver}"


@dataclass(frozen=True)
class Pair:
    """One sending agent, its receiver, and the message indexes it sends."""

    sender: str
    receiver: str
    first: int
    count: int


@dataclass(frozen=True)
class WorkerSpec:
    """What one worker process does (written to a JSON file by the benchmark)."""

    role: str
    redis_url: str
    pairs: list[Pair]
    run: str
    size: int = 64
    traffic: Traffic = "clean"
    rate: float | None = None
    """Messages per second this process offers in total; None: as fast as it can."""
    credentials_dir: str = ""
    timeout_s: float = 300.0

    def to_json(self) -> str:
        """The spec file's content."""
        raw = {**self.__dict__, "pairs": [p.__dict__ for p in self.pairs]}
        return json.dumps(raw)

    @classmethod
    def load(cls, path: Path) -> WorkerSpec:
        """Read a spec file."""
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw["pairs"] = [Pair(**p) for p in raw["pairs"]]
        return cls(**raw)


def _emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


async def _command() -> str:
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if not line:
        raise SystemExit("benchmark worker: the benchmark closed stdin")
    return line.strip()


async def _bounded(calls: Iterable[Callable[[], Awaitable[T]]]) -> list[T]:
    gate = asyncio.Semaphore(STARTS_AT_ONCE)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    return await asyncio.gather(*(one(c) for c in calls))


async def _paced(
    spec: WorkerSpec, send: Callable[[Pair, int], Awaitable[None]]
) -> dict[str, float]:
    """Send every pair's messages, each pair in order; paced at `spec.rate` when given."""
    loop = asyncio.get_running_loop()
    lanes = len(spec.pairs)
    start, started_at = loop.time(), time.time()

    async def lane(slot: int, pair: Pair) -> None:
        for n in range(pair.count):
            if spec.rate:
                delay = start + (n * lanes + slot) / spec.rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            await send(pair, pair.first + n)

    await asyncio.gather(*(lane(slot, pair) for slot, pair in enumerate(spec.pairs)))
    return {"started_at": started_at, "sent_at": time.time()}


@dataclass
class Tally:
    """What the receivers of one process got: each (sender, message id) once, and when."""

    pairs: list[Pair]
    run: str
    expected: dict[str, Pair] = field(init=False)
    seen: set[tuple[str, str]] = field(default_factory=set[tuple[str, str]])
    duplicates: int = 0
    unexpected: int = 0
    redacted: int = 0
    latencies_ms: list[float] = field(default_factory=list[float])
    first_at: float | None = None
    last_at: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.expected = {p.sender: p for p in self.pairs}
        if self.total == 0:
            self.done.set()

    @property
    def total(self) -> int:
        """Messages this process must receive."""
        return sum(p.count for p in self.pairs)

    def _belongs(self, sender: str, receiver: str, mid: str) -> bool:
        pair = self.expected.get(sender)
        prefix, _, index = mid.rpartition("-")
        if pair is None or pair.receiver != receiver or prefix != self.run:
            return False
        return index.isdigit() and pair.first <= int(index) < pair.first + pair.count

    def record(self, sender: str, receiver: str, mid: str, sent_at: float) -> None:
        """Count one delivery."""
        now = time.time()
        if not self._belongs(sender, receiver, mid):
            self.unexpected += 1
            return
        key = (sender, mid)
        if key in self.seen:
            self.duplicates += 1
            return
        self.seen.add(key)
        self.latencies_ms.append(round((now - sent_at) * 1000, 3))
        self.first_at = self.first_at or now
        self.last_at = now
        if len(self.seen) == self.total:
            self.done.set()

    def result(self, timed_out: bool) -> dict[str, Any]:
        """The receiver's JSON result."""
        return {
            "expected": self.total,
            "unique": len(self.seen),
            "duplicates": self.duplicates,
            "unexpected": self.unexpected,
            "redacted": self.redacted,
            "first_at": self.first_at,
            "finished_at": self.last_at,
            "latencies_ms": self.latencies_ms,
            "timed_out": timed_out,
        }


class Loader(Agent):
    """A sending agent; counts the refusals the gateway reports back to it."""

    def __init__(self, agent_id: str, refused: Counter[str], **options: Any) -> None:
        super().__init__(agent_id, **options)
        self.refused = refused

    async def on_rejected(self, notice: AgentMessage) -> None:
        """Count a refusal by its code (no payload is looked at)."""
        self.refused[str(notice.data.get("code"))] += 1


class Sink(Agent):
    """A receiving agent; reports each delivery to the process's tally."""

    def __init__(self, agent_id: str, tally: Tally, **options: Any) -> None:
        super().__init__(agent_id, **options)
        self.tally = tally

    @Agent.on(BENCH_TYPE)
    async def handle(self, message: AgentMessage, payload: None) -> None:
        """Count one delivery; its latency is from the sender's envelope timestamp."""
        if message.redacted_paths:
            self.tally.redacted += 1
        self.tally.record(message.sender_id, self.agent_id, message.message_id, message.timestamp)


def _agent_options(spec: WorkerSpec) -> dict[str, Any]:
    return {"redis_url": spec.redis_url, "credentials_dir": spec.credentials_dir}


async def _start(agents: list[Agent]) -> None:
    await _bounded([a.start for a in agents])


async def _stop(agents: list[Agent]) -> None:
    await _bounded([a.stop for a in agents])


async def _send(spec: WorkerSpec) -> None:
    refused: Counter[str] = Counter()
    agents = {p.sender: Loader(p.sender, refused, **_agent_options(spec)) for p in spec.pairs}
    await _start(list(agents.values()))
    try:
        _emit("ready")
        await _command()
        before = own_usage()

        async def send(pair: Pair, index: int) -> None:
            text = payload_text(spec.traffic, index, spec.size)
            await agents[pair.sender].send(
                pair.receiver, BENCH_TYPE, {"text": text}, message_id=message_id(spec.run, index)
            )

        times = await _paced(spec, send)
        _emit("sent", sent=sum(p.count for p in spec.pairs), **times)
        await _command()
        _emit("result", usage_before=before, usage_after=own_usage(), refused=dict(refused))
    finally:
        await _stop(list(agents.values()))


async def _receive(spec: WorkerSpec) -> None:
    tally = Tally(spec.pairs, spec.run)
    sinks = [Sink(p.receiver, tally, **_agent_options(spec)) for p in spec.pairs]
    await _start(list(sinks))
    try:
        _emit("ready")
        await _command()
        before = own_usage()
        timed_out = await _wait(tally, spec.timeout_s)
        if not timed_out:  # nothing left unread or pending: a late duplicate would show
            await asyncio.gather(*(s.wait_idle(spec.timeout_s) for s in sinks))
        _emit("result", usage_before=before, usage_after=own_usage(), **tally.result(timed_out))
    finally:
        await _stop(list(sinks))


async def _wait(tally: Tally, timeout_s: float) -> bool:
    """Wait for every expected message; True when the time ran out first."""
    try:
        await asyncio.wait_for(tally.done.wait(), timeout_s)
    except TimeoutError:
        return True
    return False


def _raw_client(url: str) -> aioredis.Redis:
    """A client whose concurrent commands wait for one of `RAW_CONNECTIONS` connections."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=RAW_CONNECTIONS,
        timeout=REDIS_TIMEOUT_S,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
    )
    return aioredis.Redis.from_pool(pool)


async def _raw_send(spec: WorkerSpec) -> None:
    client = _raw_client(spec.redis_url)
    try:
        await client.ping()  # type: ignore[misc]
        _emit("ready")
        await _command()
        before = own_usage()

        async def send(pair: Pair, index: int) -> None:
            text = payload_text(spec.traffic, index, spec.size)
            body = {
                "message_id": message_id(spec.run, index),
                "sender": pair.sender,
                "timestamp": time.time(),
                "data": {"text": text},
            }
            await client.xadd(raw_stream(pair.receiver), {"data": json.dumps(body)})

        times = await _paced(spec, send)
        _emit("sent", sent=sum(p.count for p in spec.pairs), **times)
        await _command()
        _emit("result", usage_before=before, usage_after=own_usage(), refused={})
    finally:
        await client.aclose()


async def _raw_receive(spec: WorkerSpec) -> None:
    tally = Tally(spec.pairs, spec.run)
    streams = {raw_stream(p.receiver): p.receiver for p in spec.pairs}
    client = _raw_client(spec.redis_url)
    try:
        await client.ping()  # type: ignore[misc]
        _emit("ready")
        await _command()
        before = own_usage()
        deadline = time.monotonic() + spec.timeout_s
        while not tally.done.is_set() and time.monotonic() < deadline:
            reply = await client.xreadgroup(
                RAW_GROUP, "c1", dict.fromkeys(streams, ">"), count=64, block=BLOCK_MS
            )
            for stream, entries in read_reply(reply):
                receiver = streams[stream.decode()]
                for _entry_id, fields in entries:
                    body = json.loads(fields[b"data"])
                    tally.record(body["sender"], receiver, body["message_id"], body["timestamp"])
                await client.xack(stream, RAW_GROUP, *(entry_id for entry_id, _ in entries))
        result = tally.result(not tally.done.is_set())
        _emit("result", usage_before=before, usage_after=own_usage(), **result)
    finally:
        await client.aclose()


ROLES: dict[str, Callable[[WorkerSpec], Coroutine[Any, Any, None]]] = {
    "send": _send,
    "receive": _receive,
    "raw-send": _raw_send,
    "raw-receive": _raw_receive,
}


def main(argv: list[str] | None = None) -> int:
    """Run the role a spec file describes."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m mas_gateway.benchmarks.worker SPEC_FILE\n")
        return 2
    spec = WorkerSpec.load(Path(args[0]))
    asyncio.run(ROLES[spec.role](spec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
