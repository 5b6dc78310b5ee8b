"""``mas circuit``: the circuit breaker of every target, its state, counts and parked depth."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from .common import add_redis_option, print_json, run_async

if TYPE_CHECKING:
    from ..circuits import CircuitView

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``circuit`` command group."""
    parser = subparsers.add_parser("circuit", help="circuit breakers per target agent")
    sub = parser.add_subparsers(dest="circuit_command", required=True, metavar="ACTION")
    show = sub.add_parser("list", help="each circuit's state, counts and parked messages")
    show.add_argument("--json", action="store_true", help="print a JSON array")
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
    from mas.redis_connect import connect_redis

    from ..circuits import read_circuits

    async def run() -> int:
        client = connect_redis(args.redis_url)
        try:
            views = await read_circuits(client)
        finally:
            await client.aclose()
        if args.json:
            print_json([view.summary() for view in views])
            return 0
        now = time.time()
        for view in views:
            print(_line(view, now))
        if not views:
            print("no circuits (no target has a circuit record or parked messages)")
        return 0

    return run_async(run())
