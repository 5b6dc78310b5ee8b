"""``mas status``: the system at a glance for an operator (exit 1 when no gateway is alive)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from .common import add_json_option, add_redis_option, print_json, run_async

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``status`` command."""
    status = subparsers.add_parser(
        "status",
        help="gateways alive, outbox backlog, dead letters, audit checkpoint, policy versions",
        description="Exit 0 when at least one gateway is alive, 1 when none is.",
    )
    status.add_argument("--top", type=int, default=5, help="agents listed per figure (default: 5)")
    add_json_option(status)
    add_redis_option(status)
    status.set_defaults(func=_status)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.1f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))


def _tops(label: str, rows: list[dict[str, Any]]) -> str:
    return f"  {label}: " + ", ".join(f"{r['agent']} {r['count']}" for r in rows) if rows else ""


def _status(args: argparse.Namespace) -> int:
    from mas.redis_connect import connect_redis

    from ..ops.overview import system_status

    if args.top < 0:
        raise SystemExit("mas status: --top must not be negative")

    async def run() -> dict[str, Any]:
        client = connect_redis(args.redis_url)
        try:
            return await system_status(client, top=args.top)
        finally:
            await client.aclose()

    doc = run_async(run())
    code = 0 if doc["gateways"]["alive"] else 1
    if args.json:
        print_json(doc)
        return code
    gateways = doc["gateways"]
    print(f"gateways: {gateways['alive']} alive of {len(gateways['records'])} known")
    for g in gateways["records"]:
        state = "alive" if g["alive"] else f"GONE (last seen {_age(g['updated_age_s'])})"
        version = (g["policy_version"] or "?")[:12]
        print(
            f"  {g['consumer']}: {state}, policy {version}, started {_when(g['started_at'])}, "
            f"last batch {_age(g['last_batch_age_s'])}"
        )
    out = doc["outboxes"]
    print(f"outboxes of {doc['agents']} agent(s): lag {out['lag']}, pending {out['pending']}")
    for line in (_tops("most lag", out["top_lag"]), _tops("most pending", out["top_pending"])):
        if line:
            print(line)
    if out["lag_unknown"]:
        print(f"  lag unknown (entries deleted before delivery): {', '.join(out['lag_unknown'])}")
    dead = doc["dead_letters"]
    print(f"dead letters: gateway {dead['gateway']}, agents {dead['agents']}")
    if dead["top_agents"]:
        print(_tops("most", dead["top_agents"]))
    audit = doc["audit"]
    checkpoint = audit["last_checkpoint"]
    signed = _age(checkpoint["age_s"]) if checkpoint else "never"
    print(f"audit: {audit['entries']} entries in Redis, last checkpoint {signed}")
    policy = doc["policy"]
    in_force = ", ".join(v[:12] for v in policy["in_force"]) or "(no gateway alive)"
    warn = (
        " (gateways disagree: a reload is under way or failed)"
        if len(policy["in_force"]) > 1
        else ""
    )
    print(f"policy in force: {in_force}{warn}")
    latest = policy["latest_recorded"]
    if latest and latest.get("version"):
        print(
            f"  last recorded: {latest['version'][:12]} by {latest['gateway_id']} "
            f"at {_when(latest['at'])}"
        )
    return code
