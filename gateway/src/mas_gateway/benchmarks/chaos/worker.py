"""The agent processes of a chaos run: ``python -m mas_gateway.benchmarks.chaos.worker ROLE``.

``send``: an SDK agent that runs what it reads on stdin (one JSON line per run:
``run``, ``count``, ``rate``): it submits `count` messages at `rate` per second,
each with its sequence number, and journals every acknowledged submission (the
SDK's ``send()`` returned) and every failed one; between runs it sends probes.
``receive``: one instance of the
receiving agent; its handler journals the message id and sequence number as its
last step, so a journal line means the handler returned (or was about to).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mas import Agent, AgentMessage

from ..policies import BULK_RECEIVER, BULK_SENDER, BULK_TYPE
from .journal import Journal

__all__ = ["PROBE_RATE", "Item", "main"]

PROBE_RATE = 20.0
"""Probe messages per second the sender sends between runs."""


class Item(BaseModel):
    """The payload of one chaos message."""

    run: str
    seq: int


class Receiver(Agent):
    """One instance of the receiving agent; journals each handled message."""

    def __init__(self, journal: Journal, instance: str, **options: Any) -> None:
        super().__init__(BULK_RECEIVER, **options)
        self.journal = journal
        self.instance_name = instance

    @Agent.on(BULK_TYPE, model=Item)
    async def handle(self, message: AgentMessage, payload: Item) -> None:
        """Record the message as handled (fsync'd) and return."""
        self.journal.write(
            {
                "event": "handled",
                "run": payload.run,
                "seq": payload.seq,
                "mid": message.message_id,
                "inst": self.instance_name,
                "t": time.time(),
            }
        )


async def _receive(args: argparse.Namespace, journal: Journal) -> None:
    receiver = Receiver(
        journal,
        args.instance,
        redis_url=args.redis_url,
        credentials=args.credentials,
        claim_idle=args.claim_idle,
        concurrency=args.concurrency,
    )
    async with receiver:
        consumer = f"{receiver.agent_id}-{receiver.instance_id}"
        journal.write(
            {"event": "started", "inst": args.instance, "consumer": consumer, "t": time.time()}
        )
        await asyncio.Event().wait()  # until killed or SIGTERM


async def _send(args: argparse.Namespace, journal: Journal) -> None:
    """Serve runs read from stdin (JSON lines: run, count, rate); probe between them."""
    commands: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    async def read_commands() -> None:
        while line := await asyncio.to_thread(sys.stdin.readline):
            commands.put_nowait(json.loads(line))
        commands.put_nowait(None)

    reader = asyncio.create_task(read_commands())
    sender = Agent(BULK_SENDER, redis_url=args.redis_url, credentials=args.credentials)
    async with sender:
        journal.write({"event": "started", "t": time.time()})
        probe_run = "probe"
        while True:
            if commands.empty():  # between runs, probes show who is still at work
                await _send_paced(sender, journal, probe_run, 1, PROBE_RATE)
                await asyncio.sleep(1 / PROBE_RATE)
                continue
            command = commands.get_nowait()
            if command is None:
                break
            run = str(command["run"])
            await _send_paced(sender, journal, run, int(command["count"]), float(command["rate"]))
            journal.write({"event": "done", "run": run, "t": time.time()})
            probe_run = f"{run}-probe"
    reader.cancel()


async def _send_paced(sender: Agent, journal: Journal, run: str, count: int, rate: float) -> None:
    """Send `count` messages at `rate` per second, journaling each outcome."""
    started = time.monotonic()
    seq = 0
    while seq < count:
        delay = started + seq / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            message_id = await sender.send(BULK_RECEIVER, BULK_TYPE, Item(run=run, seq=seq))
        except Exception as exc:  # any failure: not acknowledged
            record = {"event": "send_failed", "error": type(exc).__name__}
        else:
            record = {"event": "sent", "mid": message_id}
        journal.write({**record, "run": run, "seq": seq, "t": time.time()})
        seq += 1


def main(argv: list[str] | None = None) -> int:
    """Run one role until done (send) or killed (receive)."""
    parser = argparse.ArgumentParser(prog="mas_gateway.benchmarks.chaos.worker")
    parser.add_argument("role", choices=["send", "receive"])
    parser.add_argument("--redis-url", required=True, help="Redis URL without credentials")
    parser.add_argument("--credentials", type=Path, required=True)
    parser.add_argument("--journal", type=Path, required=True)
    parser.add_argument("--instance", default="r1")
    parser.add_argument("--claim-idle", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    journal = Journal(args.journal)
    try:
        if args.role == "send":
            asyncio.run(_send(args, journal))
        else:
            asyncio.run(_receive(args, journal))
    except KeyboardInterrupt:
        pass
    finally:
        journal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
