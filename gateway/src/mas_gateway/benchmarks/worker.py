"""Processes of the throughput benchmark: ``python -m mas_gateway.benchmarks.worker ROLE``.

Roles: ``send`` / ``receive`` use MAS agents through the gateway; ``raw-send`` /
``raw-receive`` use a plain Redis stream (the baseline). Each prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from mas import Agent, AgentMessage
from mas.redis_connect import connect_redis

from ..redis_types import read_reply
from .policies import BULK_RECEIVER, BULK_SENDER, BULK_TYPE

RAW_STREAM = "bench.raw"
RAW_GROUP = "bench"


def _emit(obj: dict[str, Any]) -> None:
    """One JSON line on stdout: the protocol between a worker and the benchmark."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Sink(Agent):
    """Counts deliveries; done when `expected` arrived."""

    def __init__(self, expected: int, **kwargs: Any) -> None:
        super().__init__(BULK_RECEIVER, **kwargs)
        self.expected = expected
        self.count = 0
        self.done = asyncio.Event()
        self.finished_at = 0.0

    @Agent.on(BULK_TYPE)
    async def handle(self, message: AgentMessage, payload: None) -> None:
        """Count one message."""
        self.count += 1
        if self.count >= self.expected:
            self.finished_at = time.time()
            self.done.set()


async def _receive(args: argparse.Namespace, options: dict[str, Any]) -> dict[str, Any]:
    sink = Sink(args.count, **options)
    async with sink:
        _emit({"ready": True})
        await asyncio.wait_for(sink.done.wait(), timeout=args.timeout)
    return {"received": sink.count, "finished_at": sink.finished_at}


async def _send(args: argparse.Namespace, options: dict[str, Any]) -> dict[str, Any]:
    loader = Agent(BULK_SENDER, **options)
    async with loader:
        started = time.time()
        for i in range(args.count):
            await loader.send(BULK_RECEIVER, BULK_TYPE, {"i": i, "text": "x" * args.size})
        sent_at = time.time()
    return {"sent": args.count, "started_at": started, "sent_at": sent_at}


async def _raw_receive(args: argparse.Namespace) -> dict[str, Any]:
    client = connect_redis(args.redis_url)
    count = 0
    deadline = time.monotonic() + args.timeout
    try:
        _emit({"ready": True})
        while count < args.count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"baseline received {count} of {args.count} messages")
            # Short blocks: a read never outlasts the client's socket timeout.
            reply = await client.xreadgroup(
                RAW_GROUP, "c1", {RAW_STREAM: ">"}, count=64, block=1000
            )
            for _stream, entries in read_reply(reply):
                ids = []
                for entry_id, fields in entries:
                    json.loads(fields[b"data"])
                    ids.append(entry_id)
                await client.xack(RAW_STREAM, RAW_GROUP, *ids)
                count += len(ids)
        return {"received": count, "finished_at": time.time()}
    finally:
        await client.aclose()


async def _raw_send(args: argparse.Namespace) -> dict[str, Any]:
    client = connect_redis(args.redis_url)
    try:
        started = time.time()
        for i in range(args.count):
            data = json.dumps({"i": i, "text": "x" * args.size})
            await client.xadd(RAW_STREAM, {"data": data})
        return {"sent": args.count, "started_at": started, "sent_at": time.time()}
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    """Run one benchmark role and print its JSON result line."""
    parser = argparse.ArgumentParser(prog="mas_gateway.benchmarks.worker")
    parser.add_argument("role", choices=["send", "receive", "raw-send", "raw-receive"])
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--credentials-dir", default="")
    parser.add_argument("--timeout", type=int, default=300)
    args = parser.parse_args(argv)
    options = {
        "redis_url": args.redis_url,
        "auto_provision": True,
        "credentials_dir": args.credentials_dir,
    }
    runners = {
        "send": lambda: _send(args, options),
        "receive": lambda: _receive(args, options),
        "raw-send": lambda: _raw_send(args),
        "raw-receive": lambda: _raw_receive(args),
    }
    result = asyncio.run(runners[args.role]())
    _emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
