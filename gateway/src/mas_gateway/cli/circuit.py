"""``mas circuit``: the circuit breaker of every target, its state, counts and parked depth."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import redis.asyncio as aioredis

from ..circuits import CircuitView, read_circuits
from .common import add_redis_option, run_async

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``circuit`` command group."""
    parser = subparsers.add_parser("circuit", help="circuit breakers per target agent")
    sub = parser.add_subparsers(dest="circuit_command", required=True, metavar="ACTION")
    show = sub.add_parser("list", help="each circuit's state, counts and parked messages")
    show.add_argument("--json", action="store_true", help="one JSON object per line")
    add_redis_option(show, demo_data=True)
    show.set_defaults(func=_list)


def _line(view: CircuitView, now: float) -> str:
    c = view.circuit
    age = f"{max(0.0, now - c.since):.0f} s" if c.since else "-"
    reason = f": {c.reason}" if c.reason else ""
    return (
        f"{view.agent_id}  {c.state.replace('_', '-')} for {age}{reason}  "
        f"(trips {c.trips}, failures in a row {c.consecutive}, "
        f"window {c.window_failures}/{c.window_calls} failed, released {c.released}, "
        f"parked {view.parked})"
    )


def _list(args: argparse.Namespace) -> int:
    async def run() -> int:
        client = aioredis.Redis.from_url(args.redis_url)
        try:
            views = await read_circuits(client)
        finally:
            await client.aclose()
        now = time.time()
        for view in views:
            print(json.dumps(view.summary()) if args.json else _line(view, now))
        if not views and not args.json:
            print("no circuits (no target has a circuit record or parked messages)")
        return 0

    return run_async(run())
