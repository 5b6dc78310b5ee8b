"""``mas agent``: provision agents, rotate tokens, revoke, show records."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from mas import keys
from mas.errors import ConfigError
from mas.redis_text import as_text

from ..registry import fetch_record, provision_agent, revoke_agent, rotate_token
from .common import add_redis_option, credentials_dir, run_async

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``agent`` command group."""
    parser = subparsers.add_parser("agent", help="provision and manage agent credentials")
    sub = parser.add_subparsers(dest="agent_command", required=True, metavar="ACTION")

    provision = sub.add_parser("provision", help="create an agent's key pair, token and roles")
    provision.add_argument("agent_id")
    provision.add_argument("--role", action="append", default=[], help="role (repeatable)")
    provision.add_argument("--out", type=Path, help="credential file (default: credentials dir)")
    provision.add_argument(
        "--replace-key", action="store_true", help="issue a new key pair for a known agent"
    )
    add_redis_option(provision)
    provision.set_defaults(func=_provision)

    rotate = sub.add_parser("rotate-token", help="issue a new token; the old one stops working")
    rotate.add_argument("agent_id")
    rotate.add_argument("--out", type=Path, help="credential file to update")
    add_redis_option(rotate)
    rotate.set_defaults(func=_rotate)

    revoke = sub.add_parser("revoke", help="revoke an agent: its next message gets 401")
    revoke.add_argument("agent_id")
    add_redis_option(revoke)
    revoke.set_defaults(func=_revoke)

    show = sub.add_parser("show", help="print an agent's registry record (no secrets)")
    show.add_argument("agent_id")
    add_redis_option(show)
    show.set_defaults(func=_show)


def _default_out(agent_id: str) -> Path:
    return credentials_dir() / f"{agent_id}.json"


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    tmp.replace(path)


async def _gateway_keys(client: aioredis.Redis) -> dict[str, str]:
    raw = await client.hgetall(keys.GATEWAY_KEYS)  # type: ignore[misc]
    return {as_text(k): as_text(v) for k, v in raw.items()}


def _provision(args: argparse.Namespace) -> int:
    async def run() -> int:
        client = aioredis.Redis.from_url(args.redis_url)
        try:
            agent = await provision_agent(
                client, args.agent_id, list(args.role), replace_key=args.replace_key
            )
            gateway_keys = await _gateway_keys(client)
        finally:
            await client.aclose()
        out: Path = args.out or _default_out(args.agent_id)
        _write_private(out, agent.credential_json(gateway_keys))
        print(f"provisioned {agent.agent_id} (key {agent.key_id}, roles {sorted(set(args.role))})")
        print(f"credential file: {out} (mode 0600; load it with Agent(credentials=...))")
        if not gateway_keys:
            print(
                "warning: no gateway key is published yet; start the gateway, then provision "
                "again or set MAS_GATEWAY_PUBLIC_KEY for the agent",
                file=sys.stderr,
            )
        return 0

    return run_async(run())


def _rotate(args: argparse.Namespace) -> int:
    out: Path = args.out or _default_out(args.agent_id)
    try:
        data = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"cannot read credential file {out} ({exc}); pass the agent's file with --out"
        ) from exc

    async def run() -> str:
        client = aioredis.Redis.from_url(args.redis_url)
        try:
            return await rotate_token(client, args.agent_id)
        finally:
            await client.aclose()

    data["token"] = asyncio.run(run())
    _write_private(out, json.dumps(data, indent=2))
    print(f"rotated the token of {args.agent_id}; updated {out}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    async def run() -> int:
        client = aioredis.Redis.from_url(args.redis_url)
        try:
            await revoke_agent(client, args.agent_id)
        finally:
            await client.aclose()
        print(f"revoked {args.agent_id}: its next message is refused with 401")
        return 0

    return run_async(run())


def _show(args: argparse.Namespace) -> int:
    async def run() -> int:
        client = aioredis.Redis.from_url(args.redis_url)
        try:
            record = await fetch_record(client, args.agent_id)
        finally:
            await client.aclose()
        if record is None:
            raise ConfigError(f"unknown agent {args.agent_id!r}")
        shown = {k: v for k, v in record.raw.items() if k != "token_hash"}
        print(json.dumps(shown, indent=2, sort_keys=True))
        return 0

    return run_async(run())
